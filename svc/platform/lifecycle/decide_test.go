package lifecycle

import "testing"

func TestDecide(t *testing.T) {
	cases := []struct {
		name     string
		cur      string
		curStage Stage
		resrv    string
		known    Stage
		stage    Stage
		want     Decision
	}{
		{"first reservation", "", StageNone, "r1", StageNone, StageReserved, Apply},
		{"rented after reserved", "r1", StageReserved, "r1", StageReserved, StageRented, Apply},
		{"late reserved after rented", "r1", StageRented, "r1", StageRented, StageReserved, Ignore},
		{"same event again", "r1", StageRented, "r1", StageRented, StageRented, Ignore},
		{"rented before reserved arrives", "", StageNone, "r1", StageNone, StageRented, Apply},
		{"next reservation after return", "r1", StageFinished, "r2", StageNone, StageReserved, Apply},
		{"next reservation overtakes the return", "r1", StageRented, "r2", StageNone, StageReserved, Wait},
		{"late event of a finished reservation", "r2", StageReserved, "r1", StageFinished, StageRented, Ignore},
		{"not a lifecycle event", "", StageNone, "r1", StageNone, StageNone, Ignore},
	}
	for _, tc := range cases {
		if got := Decide(Position{tc.cur, tc.curStage}, tc.resrv, tc.known, tc.stage); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
