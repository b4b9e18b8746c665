package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SQLite's own checkpoints run inside the commit that crosses 1000 WAL
// pages: that request copies the WAL into the database file and fsyncs
// it, tens to hundreds of milliseconds, while every writer queues behind
// it. The bench's reservation p99 was mostly those commits (73 ms with
// them, 37–58 ms without). So the writer never checkpoints
// (wal_autocheckpoint 0) and a connection of its own does it in the
// background; a commit still writes the WAL before it returns, so a
// process crash loses nothing acknowledged, exactly as before.

// checkpointInterval is how often the background checkpointer runs.
var checkpointInterval = time.Second

// walRestartFrames bounds the WAL. A passive checkpoint copies frames
// without waiting for anyone, but the WAL is reused from its start only
// when a writer finds every frame copied, which under steady writes it
// seldom does. Past this many frames (16 MiB at 4 KiB pages) a RESTART
// checkpoint takes the writer's lock for the few frames the passive one
// left, and the next write starts the WAL over: one short wait every
// 4096 frames instead of a full checkpoint in a commit every 1000.
var walRestartFrames = 4096

type checkpointer struct {
	conn *sql.DB
	path string
	stop chan struct{}
	done sync.WaitGroup
}

func startCheckpointer(ctx context.Context, path string) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: checkpointer: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite %s: checkpointer: %w", path, err)
	}
	c := &checkpointer{conn: conn, path: path, stop: make(chan struct{})}
	c.done.Go(c.run)
	return c, nil
}

func (c *checkpointer) run() {
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		err := c.checkpoint()
		// One line when checkpoints start failing and one when they work
		// again: nothing is lost meanwhile, the WAL only grows.
		switch {
		case err != nil && !failing:
			slog.Warn("sqlite checkpoint failed; the WAL grows until one succeeds", "db", c.path, "err", err)
		case err == nil && failing:
			slog.Info("sqlite checkpoints succeed again", "db", c.path)
		}
		failing = err != nil
	}
}

// checkpoint copies what it can without waiting, and restarts the WAL
// when it has grown past walRestartFrames.
func (c *checkpointer) checkpoint() error {
	var busy, frames, copied int
	if err := c.conn.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	if frames < walRestartFrames {
		return nil
	}
	return c.conn.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
}

func (c *checkpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}
