//go:build tools

// Package kubescore pins kube-score (github.com/zegl/kube-score/cmd/kube-score),
// the static checker the test bed runs over every workload it deployed.
package kubescore

import _ "github.com/zegl/kube-score/cmd/kube-score"
