// Package systemtest drives the whole rental system from the outside, the
// way the operations write-up did with httpie and siege: the story end to
// end through the gateway (in one process), and a crash test with every
// service in its own process, one of them killed with SIGKILL mid-stream.
package systemtest
