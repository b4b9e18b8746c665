package addons

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// The configuration our StatefulSet mounts is one nats-server accepts, for
// a single server and for a cluster: parsed and validated by the server
// itself (the version go.mod pins, which the image runs).
func TestNATSConfigIsAcceptedByTheServer(t *testing.T) {
	t.Setenv("POD_NAME", "nats-0")
	for _, replicas := range []int{1, 3} {
		path := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(path, []byte(natsConfig(replicas)), 0o644); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("%d servers: %v\n%s", replicas, err, natsConfig(replicas))
		}
		opts.StoreDir = t.TempDir() // the pod's /data
		if _, err := server.NewServer(opts); err != nil {
			t.Fatalf("%d servers: %v\n%s", replicas, err, natsConfig(replicas))
		}
		if opts.ServerName != "nats-0" || !opts.JetStream || (replicas > 1) != (len(opts.Routes) == replicas) {
			t.Fatalf("%d servers: name %q, jetstream %v, %d routes", replicas, opts.ServerName, opts.JetStream, len(opts.Routes))
		}
	}
}
