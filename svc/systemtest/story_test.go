package systemtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/wiring/local"
)

// startLocal runs the whole system in this process on free loopback ports.
func startLocal(t *testing.T, env map[string]string) *local.System {
	t.Helper()
	return startLocalWith(t, t.TempDir(), env)
}

// startLocalWith is startLocal with a known data directory (its signing
// key, kept between runs) and environment.
func startLocalWith(t *testing.T, dir string, env map[string]string) *local.System {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := local.Start(ctx, local.Options{
		DataDir: dir,
		Getenv:  func(k string) string { return env[k] },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := sys.Wait(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return sys
}

const (
	carTest  = `{"carNo":"test","rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`
	carCar01 = `{"carNo":"car01","rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`
	carCar02 = `{"carNo":"car02","rentalAmt":"20000","procStatus":"WAITING","carRegDt":"20200702"}`
)

func reservation(resrvNo, carNo, paymtNo string) string {
	return fmt.Sprintf(`{"carNo":%q,"custNo":"cus01","paymtNo":%q,"procStatus":"RESERVED","rentalAmt":"10000","resrvNo":%q,"resrvDt":"20200801","rentalDt":"20200802","returnDt":"20200805"}`,
		carNo, paymtNo, resrvNo)
}

// carStatus waits until management and the view agree the car is in want.
func carStatus(t *testing.T, gw *api, carNo, want string) {
	t.Helper()
	eventually(t, carNo+" becomes "+want, func() error {
		car := gw.call("GET", "/carManagements/"+carNo, "").Map(t)
		if got := field(car, "procStatus"); got != want {
			return fmt.Errorf("management says %q", got)
		}
		info := gw.call("GET", "/carInformations/"+carNo, "")
		if info.Status != 200 {
			return fmt.Errorf("view: %d %s", info.Status, info.Body)
		}
		if got := field(info.Map(t), "carStatus"); got != want {
			return fmt.Errorf("view says %q", got)
		}
		return nil
	})
}

func TestRentalStoryThroughTheGateway(t *testing.T) {
	sys := startLocal(t, nil)
	gw := staffAPI(t, sys)

	// Register cars with the write-up's payloads; posting one again is a
	// harmless replay (the write-up's siege posts "test" thousands of times).
	for _, body := range []string{carTest, carCar01, carCar02} {
		gw.expect(201, "POST", "/carManagements", body)
	}
	gw.expect(200, "POST", "/carManagements", carTest)
	gw.expect(409, "POST", "/carManagements", strings.Replace(carTest, `"10000"`, `"99999"`, 1))
	var cars []map[string]any
	gw.expect(200, "GET", "/carManagements", "").JSON(t, &cars)
	if len(cars) != 3 {
		t.Fatalf("%d cars listed, want 3", len(cars))
	}

	// Reserve: payment approved, car RESERVED, the view shows it.
	res1 := gw.expect(201, "POST", "/carReservations", reservation("res20200801Seq0001", "car01", "pay20200801Seq0001")).Map(t)
	if field(res1, "procStatus") != "RESERVED" {
		t.Fatalf("reservation %v", res1)
	}
	gw.expect(200, "POST", "/carReservations", reservation("res20200801Seq0001", "car01", "pay20200801Seq0001"))
	carStatus(t, gw, "car01", "RESERVED")
	var payments []map[string]any
	gw.expect(200, "GET", "/payments?resrvNo=res20200801Seq0001", "").JSON(t, &payments)
	if len(payments) != 1 || field(payments[0], "status") != "APPROVED" {
		t.Fatalf("payments %v, want exactly one APPROVED", payments)
	}
	eventually(t, "view shows the payment", func() error {
		info := gw.call("GET", "/carInformations/car01", "").Map(t)
		if field(info, "resrvNo") != "res20200801Seq0001" || field(info, "paymentStatus") != "APPROVED" {
			return fmt.Errorf("view row %v", info)
		}
		return nil
	})

	// A reserved car cannot be reserved again.
	gw.expect(409, "POST", "/carReservations", reservation("res20200801Seq0002", "car01", "pay20200801Seq0002"))

	// Rent, then return: the car is WAITING again.
	rental := gw.expect(201, "POST", "/carRentals", `{"resrvNo":"res20200801Seq0001"}`).Map(t)
	rentalNo := field(rental, "rentalNo")
	if rentalNo == "" || field(rental, "country") != "korea" || field(rental, "region") != "seoul" {
		t.Fatalf("rental %v", rental)
	}
	carStatus(t, gw, "car01", "RENTED")
	gw.expect(409, "POST", "/carReservations/res20200801Seq0001/cancel", "")
	gw.expect(200, "POST", "/carRentals/"+rentalNo+"/return", "")
	carStatus(t, gw, "car01", "WAITING")
	eventually(t, "reservation marked returned", func() error {
		r := gw.call("GET", "/carReservations/res20200801Seq0001", "").Map(t)
		if field(r, "procStatus") != "RETURNED" {
			return fmt.Errorf("reservation %v", r)
		}
		return nil
	})

	// Reserve and cancel: the payment is canceled and the car freed.
	gw.expect(201, "POST", "/carReservations", reservation("res20200801Seq0003", "car02", "pay20200801Seq0003"))
	carStatus(t, gw, "car02", "RESERVED")
	gw.expect(200, "POST", "/carReservations/res20200801Seq0003/cancel", "")
	carStatus(t, gw, "car02", "WAITING")
	gw.expect(200, "GET", "/payments?resrvNo=res20200801Seq0003", "").JSON(t, &payments)
	if len(payments) != 1 || field(payments[0], "status") != "CANCELED" {
		t.Fatalf("payments after cancel %v", payments)
	}
	eventually(t, "view shows the cancel", func() error {
		info := gw.call("GET", "/carInformations/car02", "").Map(t)
		if field(info, "paymentStatus") != "CANCELED" || field(info, "carStatus") != "WAITING" {
			return fmt.Errorf("view row %v", info)
		}
		return nil
	})
}

func TestBadInputGetsClearJSONErrors(t *testing.T) {
	sys := startLocal(t, nil)
	gw := staffAPI(t, sys)
	gw.expect(201, "POST", "/carManagements", carCar01)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed JSON", "POST", "/carManagements", `{"carNo":`, 400},
		{"wrong type", "POST", "/carManagements", `{"carNo":5,"rentalAmt":"1","carRegDt":"20200701"}`, 400},
		{"missing carNo", "POST", "/carManagements", `{"rentalAmt":"10000","carRegDt":"20200701"}`, 400},
		{"impossible date", "POST", "/carManagements", `{"carNo":"x","rentalAmt":"1","carRegDt":"20200231"}`, 400},
		{"unknown car", "POST", "/carReservations", reservation("r404", "nocar", "p404"), 404},
		{"return before rental", "POST", "/carReservations", strings.Replace(reservation("r400", "car01", "p400"), `"returnDt":"20200805"`, `"returnDt":"20200701"`, 1), 400},
		{"oversized body", "POST", "/carManagements", `{"carNo":"` + strings.Repeat("x", 100<<10) + `"}`, 413},
		{"unknown reservation", "GET", "/carReservations/none", "", 404},
		{"unknown route", "GET", "/carsEverywhere", "", 404},
		{"rent unknown reservation", "POST", "/carRentals", `{"resrvNo":"none"}`, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { gw.expect(tc.status, tc.method, tc.path, tc.body) })
	}
}

// TestRentalStoryOnPostgreSQL runs the same story with every service on
// PostgreSQL (each in its own schema) instead of SQLite.
func TestRentalStoryOnPostgreSQL(t *testing.T) {
	dsn := sqldbtest.PostgresDSN()
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		if sqldbtest.Required() {
			t.Fatalf("PostgreSQL %s: %v", dsn, err)
		}
		t.Skipf("PostgreSQL %s unreachable: %v", dsn, err)
	}
	defer db.Close()
	prefix := "story_" + event.RandomSuffix(8) + "_"
	t.Cleanup(func() {
		for _, s := range contract.Services() {
			_, _ = db.Exec(`DROP SCHEMA IF EXISTS "` + prefix + string(s) + `" CASCADE`)
		}
	})
	sys := startLocal(t, map[string]string{contract.EnvDatabaseURL: dsn, contract.EnvSchemaPrefix: prefix})
	gw := staffAPI(t, sys)
	gw.expect(201, "POST", "/carManagements", carCar01)
	gw.expect(201, "POST", "/carReservations", reservation("res01", "car01", "pay01"))
	carStatus(t, gw, "car01", "RESERVED")
	rental := gw.expect(201, "POST", "/carRentals", `{"resrvNo":"res01"}`).Map(t)
	carStatus(t, gw, "car01", "RENTED")
	gw.expect(200, "POST", "/carRentals/"+field(rental, "rentalNo")+"/return", "")
	carStatus(t, gw, "car01", "WAITING")
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM "` + prefix + `payment".payments`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("payments in PostgreSQL: %d (%v)", n, err)
	}
}
