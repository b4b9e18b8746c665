package config

import (
	"fmt"
	"strings"

	"github.com/carrental/carrental/svc/contract"
)

// DefaultDBInstanceClass is the smallest RDS class whose connections hold
// every pod's pool at the default autoscalers' maxima (a db.t4g.micro
// holds about 84: under two per pod).
const DefaultDBInstanceClass = "db.t4g.small"

// reservedConnections are kept free of the pods' pools: RDS's own
// superuser slots, an operator's psql, a migration run by hand.
const reservedConnections = 10

// localPostgresConnections is PostgreSQL's own default max_connections,
// what a local stack's databaseUrl is assumed to allow.
const localPostgresConnections = 100

// classMemoryGiB is the memory of the RDS classes the stack knows; RDS
// derives max_connections for PostgreSQL from it.
var classMemoryGiB = map[string]float64{
	"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16,
	"2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "16xlarge": 256,
}

// memoryOptimized are the families with twice the memory per size.
var memoryOptimized = map[string]bool{"r5": true, "r6g": true, "r6i": true, "r7g": true, "r7i": true}

// rdsMaxConnections is RDS PostgreSQL's default max_connections for a
// class: LEAST(DBInstanceClassMemory/9531392, 5000), where
// DBInstanceClassMemory is the class's memory less what RDS keeps for
// the OS and its agents (counted here as a quarter, a low estimate).
func rdsMaxConnections(class string) (int, bool) {
	parts := strings.Split(class, ".")
	if len(parts) != 3 || parts[0] != "db" {
		return 0, false
	}
	gib, ok := classMemoryGiB[parts[2]]
	if !ok || parts[2] == "micro" && !strings.HasPrefix(parts[1], "t") {
		return 0, false
	}
	family := parts[1]
	switch {
	case memoryOptimized[family]:
		gib *= 2
	case strings.HasPrefix(family, "t") || strings.HasPrefix(family, "m"):
	default:
		return 0, false
	}
	n := int(gib * 0.75 * (1 << 30) / 9531392)
	return min(n, 5000), true
}

// DatabasePool is the PostgreSQL pool each pod may open
// (DATABASE_MAX_CONNS): the server's connections, less a few kept free,
// divided among every pod that may hold a pool at once — each service
// with a database at its autoscaler's maximum, plus surge pods a rolling
// update adds — at most contract.DefaultDatabaseMaxConns. A share below
// contract.MinDatabaseMaxConns is refused, naming what to change: pods
// that cannot connect exactly at peak load are worse than a failed
// preview.
func (c Config) DatabasePool(surge int) (int, error) {
	server, where := c.DBMaxConnections, "carrental:dbMaxConnections"
	if server == 0 {
		switch {
		case c.Target == AWS:
			n, ok := rdsMaxConnections(c.DBInstanceClass)
			if !ok {
				return 0, fmt.Errorf("carrental:dbInstanceClass %q: its max_connections is unknown here; set carrental:dbMaxConnections to the instance's", c.DBInstanceClass)
			}
			server, where = n, fmt.Sprintf("a %s (about %d connections)", c.DBInstanceClass, n)
		default:
			server, where = localPostgresConnections, fmt.Sprintf("the databaseUrl's PostgreSQL (assumed %d connections; carrental:dbMaxConnections says otherwise)", localPostgresConnections)
		}
	}
	pods := 0
	for _, s := range contract.Services() {
		if !contract.HasDatabase(s) {
			continue
		}
		replicas := 1
		if a, ok := c.Autoscaling[s]; ok {
			replicas = a.MaxReplicas
		}
		pods += replicas + surge
	}
	share := min((server-reservedConnections)/pods, contract.DefaultDatabaseMaxConns)
	if share < contract.MinDatabaseMaxConns {
		return 0, fmt.Errorf("%s leaves %d connections for %d pods at the autoscalers' maxima (%d kept free): under %d each; "+
			"choose a larger carrental:dbInstanceClass, or lower maxReplicas in carrental:autoscaling",
			where, server-reservedConnections, pods, reservedConnections, contract.MinDatabaseMaxConns)
	}
	return share, nil
}
