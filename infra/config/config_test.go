package config

import "testing"

// The write-up's autoscaler: kubectl autoscale deploy management --min=2
// --max=10 --cpu-percent=20.
func TestWriteUpAutoscaling(t *testing.T) {
	if want := (Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUPercent: 20}); writeUpAutoscaling != want {
		t.Fatalf("management autoscaling %+v, want %+v", writeUpAutoscaling, want)
	}
}

func TestPinnedImageReferences(t *testing.T) {
	for ref, want := range map[string]bool{
		"r.example/carrental/view:v1.2.0":                            true,
		"r.example/view@sha256:0123abcd":                             true,
		"123.dkr.ecr.ap-northeast-2.amazonaws.com/view:3f2a9c1d0e4b": true,
		"carrental.local/view:3f2a9c1d0e4b-dirty-1700000000":         true,
		"r.example/view:latest":                                      false,
		"r.example/view":                                             false,
		"registry:5000/view":                                         false, // a port, not a tag
		"registry:5000/view:v1":                                      true,
		"view:":                                                      false,
	} {
		if got := pinned(ref); got != want {
			t.Errorf("pinned(%q) = %v, want %v", ref, got, want)
		}
	}
}
