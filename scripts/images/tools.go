//go:build tools

// Package images pins ko, the image builder, for scripts/build-images.
package images

import _ "github.com/google/ko"
