package sqldb

import "time"

// CheckpointEvery makes the background checkpointer of DBs opened after it
// run every d and restart the WAL past frames; it returns the restore.
func CheckpointEvery(d time.Duration, frames int) (restore func()) {
	oldD, oldF := checkpointInterval, walRestartFrames
	checkpointInterval, walRestartFrames = d, frames
	return func() { checkpointInterval, walRestartFrames = oldD, oldF }
}
