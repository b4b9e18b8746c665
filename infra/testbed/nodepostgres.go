package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The node's PostgreSQL — the local cluster's "RDS": one database that all
// replicas of a service share, which SQLite in each pod's emptyDir cannot
// be. The machine's own PostgreSQL listens on 127.0.0.1 only, which pods
// cannot reach, and is left alone: the node runs an instance of its own,
// Debian's binaries (/usr/lib/postgresql/<ver>/bin), as the postgres OS
// user (initdb and postgres refuse root), with its data in
// <state>/postgres/data, its unix socket in <state>/postgres/run, listening
// on NodeIP:5432 only.

const (
	// PostgresPort is the node's PostgreSQL port on NodeIP.
	PostgresPort = 5432
	// DatabaseName is the database up creates for the services.
	DatabaseName = "carrental"
	postgresUser = "postgres" // the OS user it runs as, and the database superuser
)

// DatabaseURL is the node's PostgreSQL as pods (and the host) reach it;
// up also writes it to <state>/database-url.
func (n *Node) DatabaseURL() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", postgresUser, NodeIP, PostgresPort, DatabaseName)
}

func (n *Node) databaseURLPath() string { return filepath.Join(n.Dir, "database-url") }
func (n *Node) pgDir() string           { return filepath.Join(n.Dir, "postgres") }

// postgresBinDir is the newest /usr/lib/postgresql/<version>/bin holding
// both postgres and initdb (Debian's layout; package postgresql).
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if exists(filepath.Join(d, "postgres")) && exists(filepath.Join(d, "initdb")) {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", fmt.Errorf("no PostgreSQL server in /usr/lib/postgresql/<version>/bin (Debian package postgresql; scripts/cluster up installs it)")
	}
	major := func(d string) int {
		v, _ := strconv.Atoi(strings.SplitN(filepath.Base(filepath.Dir(d)), ".", 2)[0])
		return v
	}
	sort.Slice(ok, func(i, j int) bool { return major(ok[i]) < major(ok[j]) })
	return ok[len(ok)-1], nil
}

// pgHBA admits the host (connections to NodeIP come from NodeIP) and the
// pods, without a password. Acceptable only because this is a throwaway
// test cluster on a non-routable address: NodeIP exists only on lo, so
// nothing outside this machine can reach it, and the database holds test
// data. Everything else is rejected (no "all" line).
var pgHBA = fmt.Sprintf(`# carrental test cluster (infra/testbed/nodepostgres.go): trust, because
# %s is a non-routable address on lo of this machine and the data is
# throwaway. Never copy this to a reachable server.
local all all                 trust
host  all all %s/32     trust
host  all all %s    trust
`, NodeIP, NodeIP, PodCIDR)

// closedAncestor returns the highest directory at or above dir that other
// users cannot traverse (no o+x), or "" if there is none. The default state
// directory lies below /root (0700), which the postgres user cannot pass.
func closedAncestor(dir string) string {
	var chain []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if p == "/" {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if fi, err := os.Stat(chain[i]); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return chain[i]
		}
	}
	return ""
}

// pgWrapScript runs as root in a mount and IPC namespace of its own, then
// becomes the postgres user. The namespaces make the instance invisible
// to the machine beyond its port and its state directory:
//   - /dev/shm is a tmpfs of its own, and System V shared memory lives in
//     its own IPC namespace: a killed postgres leaves no segment or
//     /dev/shm file behind, and nothing it makes is seen by the machine's
//     PostgreSQL;
//   - copies of the node's mounts below the state directory are dropped;
//   - the state directory may lie below a directory the postgres user may
//     not traverse ($2, e.g. /root): the data directory is bound to a
//     stash, that directory is hidden under an empty tmpfs (in this
//     namespace only), and the data directory moved back to its own path
//     inside it. postgres sees its files at the same paths as the host,
//     and nothing else of the state directory (keys, etcd).
//
// mount -n: nothing is written to /run/mount/utab.
const pgWrapScript = `set -eu
pg=$1 cover=$2
shift 2
# The namespace starts with copies of the machine's mounts, among them the
# node's own below the state directory (the kubelet's, pods' volumes and
# network namespaces on a second up): let go of them, or they would live on
# for as long as postgres runs.
awk -v s="${pg%/*}/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
  while read -r m; do umount -n -l "$m" || true; done
mount -n -t tmpfs -o mode=1777,nosuid,nodev carrental-pg-shm /dev/shm
if [ -n "$cover" ]; then
  mkdir /dev/shm/.carrental-pg
  mount -n --bind "$pg" /dev/shm/.carrental-pg
  mount -n -t tmpfs -o mode=755,size=1m,nosuid,nodev carrental-pg-hide "$cover"
  mkdir -p "$pg"
  mount -n --move /dev/shm/.carrental-pg "$pg"
  rmdir /dev/shm/.carrental-pg
fi
exec setpriv --reuid=` + postgresUser + ` --regid=` + postgresUser + ` --init-groups -- "$@"
`

// pgWrap is the argv that runs cmd as the postgres user (pgWrapScript).
// unshare and setpriv exec in place: the pid started is the pid of cmd.
func (n *Node) pgWrap(cmd ...string) []string {
	return append([]string{"unshare", "--mount", "--ipc", "--propagation", "private", "--",
		"/bin/sh", "-c", pgWrapScript, "carrental-pg", n.pgDir(), closedAncestor(filepath.Dir(n.pgDir()))}, cmd...)
}

func (n *Node) pgEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + n.pgDir(), "LANG=C", "LC_ALL=C"}
}

// preparePostgres makes <state>/postgres the postgres user's, creates the
// database cluster once (initdb) and writes pg_hba.conf; it returns the
// server's argv. Settings go on the command line, where status and ps show
// them.
func (n *Node) preparePostgres(ctx context.Context) ([]string, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	u, err := user.Lookup(postgresUser)
	if err != nil {
		return nil, fmt.Errorf("no %s user (Debian's postgresql package creates it): %w", postgresUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	pg := n.pgDir()
	data, run := filepath.Join(pg, "data"), filepath.Join(pg, "run")
	for _, d := range []string{pg, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, err
		}
	}
	if !exists(filepath.Join(data, "PG_VERSION")) {
		_ = os.RemoveAll(data) // a half-made one from an interrupted up
		t0 := time.Now()
		argv := n.pgWrap(filepath.Join(bin, "initdb"), "-D", data, "-U", postgresUser, "--auth=trust",
			"--encoding=UTF8", "--locale=C", "--no-instructions")
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = n.Dir, n.pgEnv()
		out, err := cmd.CombinedOutput()
		if lf, lerr := os.OpenFile(n.logPath("postgres"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); lerr == nil {
			fmt.Fprintf(lf, "\n=== %s: initdb\n%s", time.Now().Format(time.RFC3339), out)
			lf.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("initdb: %w\n%s", err, out)
		}
		n.logf("postgres: database cluster created in %s (%.1fs)", data, time.Since(t0).Seconds())
	}
	hba := filepath.Join(data, "pg_hba.conf")
	if err := writeIfChanged(hba, []byte(pgHBA), 0o600); err != nil {
		return nil, err
	}
	if err := os.Chown(hba, uid, gid); err != nil {
		return nil, err
	}
	return n.pgWrap(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses="+NodeIP, // the node IP only: not 127.0.0.1, where the machine's own one listens
		"-c", fmt.Sprintf("port=%d", PostgresPort),
		"-c", "unix_socket_directories="+run,
		"-c", "cluster_name=carrental-node",
		// The node stack tells the pods this figure (dbMaxConnections),
		// and each takes its share of it.
		"-c", fmt.Sprintf("max_connections=%d", NodePostgresMaxConnections),
		"-c", "logging_collector=off", // stderr: <state>/logs/postgres.log
	), nil
}

// NodePostgresMaxConnections is the node PostgreSQL's max_connections:
// room for the node stack's pods at their maxima with full pools of ten.
const NodePostgresMaxConnections = 300

// postgresReady waits until the server accepts connections on NodeIP,
// creates the services' database and writes the URL file.
func (n *Node) postgresReady(ctx context.Context) error {
	t0 := time.Now()
	admin := fmt.Sprintf("postgres://%s@%s:%d/postgres?sslmode=disable&connect_timeout=3", postgresUser, NodeIP, PostgresPort)
	err := n.waitFor(ctx, "postgres", time.Minute, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		var found bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", DatabaseName).Scan(&found); err != nil {
			return err
		}
		if !found {
			if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{DatabaseName}.Sanitize()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeIfChanged(n.databaseURLPath(), []byte(n.DatabaseURL()+"\n"), 0o644); err != nil {
		return err
	}
	n.logf("postgres ready (%.1fs): %s (also in %s)", time.Since(t0).Seconds(), n.DatabaseURL(), n.databaseURLPath())
	return nil
}
