package systemtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/wiring/local"
)

const custA, custB = "cusA", "cusB"

func carBody(carNo string) string {
	return fmt.Sprintf(`{"carNo":%q,"rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`, carNo)
}

func resBody(resrvNo, carNo, paymtNo, custNo string) string {
	return fmt.Sprintf(`{"carNo":%q,"custNo":%q,"paymtNo":%q,"procStatus":"RESERVED","rentalAmt":"10000","resrvNo":%q,"resrvDt":"20200801","rentalDt":"20200802","returnDt":"20200805"}`,
		carNo, custNo, paymtNo, resrvNo)
}

func payBody(paymtNo, custNo string) string {
	return fmt.Sprintf(`{"paymtNo":%q,"resrvNo":"r-%s","carNo":"c-%s","custNo":%q,"amount":"10000"}`, paymtNo, paymtNo, paymtNo, custNo)
}

// authWorld is one system with customer A's objects in it.
type authWorld struct {
	sys                 *local.System
	anon, a, b, staff   *api
	resA, payA, rentalA string
	carA                string
	n                   int
}

// reserveFor has customer cust reserve a fresh car (registered by staff).
func (w *authWorld) reserveFor(t *testing.T, as *api, cust string) (resrvNo, carNo, paymtNo string) {
	t.Helper()
	w.n++
	resrvNo, carNo, paymtNo = fmt.Sprintf("ares%02d", w.n), fmt.Sprintf("acar%02d", w.n), fmt.Sprintf("apay%02d", w.n)
	w.staff.expect(201, "POST", contract.PathCarManagements, carBody(carNo))
	as.expect(201, "POST", contract.PathCarReservations, resBody(resrvNo, carNo, paymtNo, cust))
	return resrvNo, carNo, paymtNo
}

func newAuthWorld(t *testing.T) *authWorld {
	sys := startLocal(t, nil)
	gw := newAPI(t, sys.Gateway())
	w := &authWorld{sys: sys, anon: gw, a: gw.as(mint(t, sys, contract.RoleCustomer, custA)),
		b: gw.as(mint(t, sys, contract.RoleCustomer, custB)), staff: gw.as(mint(t, sys, contract.RoleStaff, "staff01"))}
	w.resA, w.carA, w.payA = w.reserveFor(t, w.a, custA)
	res, _, _ := w.reserveFor(t, w.a, custA)
	w.rentalA = field(w.a.expect(201, "POST", contract.PathCarRentals, fmt.Sprintf(`{"resrvNo":%q}`, res)).Map(t), "rentalNo")
	return w
}

// Every route of contract.PublicRoutes × {anonymous, customer A, customer
// B, staff}: the status each answers, against the running system.
func TestWhoMayDoWhatOnEveryRoute(t *testing.T) {
	w := newAuthWorld(t)
	type who int
	const (
		anon who = iota
		a
		b
		staff
	)
	names := []string{"anonymous", "customer A", "customer B", "staff"}
	clients := []*api{w.anon, w.a, w.b, w.staff}
	subject := []string{custA, custA, custB, custA}
	seq := 0
	fresh := func(prefix string) string { seq++; return fmt.Sprintf("%s%02d", prefix, seq) }
	// cell makes the request of one identity (fresh objects for the
	// writes that succeed) and the status it must answer.
	type cell func(t *testing.T, id who) (path, body string)
	table := map[string]struct {
		want [4]int
		req  cell
	}{
		"POST " + contract.PathCarManagements: {[4]int{401, 403, 403, 201}, func(t *testing.T, id who) (string, string) {
			return contract.PathCarManagements, carBody(fresh("mcar"))
		}},
		"GET " + contract.PathCarManagements:              {[4]int{401, 403, 403, 200}, func(*testing.T, who) (string, string) { return contract.PathCarManagements, "" }},
		"GET " + contract.PathCarManagements + "/{carNo}": {[4]int{401, 403, 403, 200}, func(*testing.T, who) (string, string) { return contract.PathCarManagements + "/" + w.carA, "" }},
		"PATCH " + contract.PathCarManagements + "/{carNo}": {[4]int{401, 403, 403, 200}, func(*testing.T, who) (string, string) {
			return contract.PathCarManagements + "/" + w.carA, `{"rentalAmt":"10000"}`
		}},
		"DELETE " + contract.PathCarManagements + "/{carNo}": {[4]int{401, 403, 403, 204}, func(t *testing.T, id who) (string, string) {
			car := fresh("dcar")
			w.staff.expect(201, "POST", contract.PathCarManagements, carBody(car))
			return contract.PathCarManagements + "/" + car, ""
		}},
		"GET " + contract.PathCarManagements + "/{carNo}/quote": {[4]int{200, 200, 200, 200}, func(*testing.T, who) (string, string) {
			return contract.PathCarManagements + "/" + w.carA + "/quote?from=20200802&to=20200805", ""
		}},
		"POST " + contract.PathCarReservations: {[4]int{401, 201, 201, 201}, func(t *testing.T, id who) (string, string) {
			car := fresh("rcar")
			w.staff.expect(201, "POST", contract.PathCarManagements, carBody(car))
			return contract.PathCarReservations, resBody(fresh("rres"), car, fresh("rpay"), subject[id])
		}},
		"GET " + contract.PathCarReservations:                {[4]int{401, 200, 200, 200}, func(*testing.T, who) (string, string) { return contract.PathCarReservations, "" }},
		"GET " + contract.PathCarReservations + "/{resrvNo}": {[4]int{401, 200, 404, 200}, func(*testing.T, who) (string, string) { return contract.PathCarReservations + "/" + w.resA, "" }},
		"POST " + contract.PathCarReservations + "/{resrvNo}/cancel": {[4]int{401, 200, 404, 200}, func(t *testing.T, id who) (string, string) {
			if id == a || id == staff { // each cancels a reservation of A's of its own
				res, _, _ := w.reserveFor(t, w.a, custA)
				return contract.PathCarReservations + "/" + res + "/cancel", ""
			}
			return contract.PathCarReservations + "/" + w.resA + "/cancel", ""
		}},
		"POST " + contract.PathPayments: {[4]int{401, 201, 201, 201}, func(t *testing.T, id who) (string, string) {
			return contract.PathPayments, payBody(fresh("ppay"), subject[id])
		}},
		"GET " + contract.PathPayments:                {[4]int{401, 200, 200, 200}, func(*testing.T, who) (string, string) { return contract.PathPayments, "" }},
		"GET " + contract.PathPayments + "/{paymtNo}": {[4]int{401, 200, 404, 200}, func(*testing.T, who) (string, string) { return contract.PathPayments + "/" + w.payA, "" }},
		"POST " + contract.PathPayments + "/{paymtNo}/cancel": {[4]int{401, 200, 404, 200}, func(t *testing.T, id who) (string, string) {
			if id == a || id == staff {
				p := fresh("cpay")
				w.a.expect(201, "POST", contract.PathPayments, payBody(p, custA))
				return contract.PathPayments + "/" + p + "/cancel", ""
			}
			return contract.PathPayments + "/" + w.payA + "/cancel", ""
		}},
		"POST " + contract.PathCarRentals: {[4]int{401, 201, 404, 201}, func(t *testing.T, id who) (string, string) {
			if id == a || id == staff {
				res, _, _ := w.reserveFor(t, w.a, custA)
				return contract.PathCarRentals, fmt.Sprintf(`{"resrvNo":%q}`, res)
			}
			return contract.PathCarRentals, fmt.Sprintf(`{"resrvNo":%q}`, w.resA)
		}},
		"GET " + contract.PathCarRentals:                 {[4]int{401, 200, 200, 200}, func(*testing.T, who) (string, string) { return contract.PathCarRentals, "" }},
		"GET " + contract.PathCarRentals + "/{rentalNo}": {[4]int{401, 200, 404, 200}, func(*testing.T, who) (string, string) { return contract.PathCarRentals + "/" + w.rentalA, "" }},
		"POST " + contract.PathCarRentals + "/{rentalNo}/return": {[4]int{401, 200, 404, 200}, func(t *testing.T, id who) (string, string) {
			if id == a || id == staff {
				res, _, _ := w.reserveFor(t, w.a, custA)
				rental := field(w.a.expect(201, "POST", contract.PathCarRentals, fmt.Sprintf(`{"resrvNo":%q}`, res)).Map(t), "rentalNo")
				return contract.PathCarRentals + "/" + rental + "/return", ""
			}
			return contract.PathCarRentals + "/" + w.rentalA + "/return", ""
		}},
		"GET " + contract.PathCarInformations:              {[4]int{200, 200, 200, 200}, func(*testing.T, who) (string, string) { return contract.PathCarInformations, "" }},
		"GET " + contract.PathCarInformations + "/{carNo}": {[4]int{200, 200, 200, 200}, func(*testing.T, who) (string, string) { return contract.PathCarInformations + "/" + w.carA, "" }},
	}
	for _, rt := range contract.PublicRoutes() {
		key := rt.Method + " " + rt.Path
		c, ok := table[key]
		if !ok {
			t.Errorf("%s: no row in this table", key)
			continue
		}
		delete(table, key)
		for id := anon; id <= staff; id++ {
			path, body := c.req(t, id)
			r := clients[id].expect(c.want[id], rt.Method, path, body)
			if r.Status == 401 && !strings.HasPrefix(r.Body2Header(t, clients[id], rt.Method, path, body), `Bearer realm="carrental"`) {
				t.Errorf("%s as %s: 401 without WWW-Authenticate", key, names[id])
			}
		}
	}
	for key := range table {
		t.Errorf("%s is in this table but not in contract.PublicRoutes", key)
	}
}

// Body2Header repeats a request and returns its WWW-Authenticate (the
// api client keeps only status and body).
func (r reply) Body2Header(t *testing.T, a *api, method, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("WWW-Authenticate")
}

// Each bad token answers 401 invalid_token and nothing else, through the
// gateway and on a service called directly; the same request with a good
// token is served.
func TestBadTokensAnswer401(t *testing.T) {
	dir := t.TempDir()
	sys := startLocalWith(t, dir, nil)
	key, err := auth.LoadOrCreateKey(filepath.Join(dir, local.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	kid := sys.Signer.KeyID()
	now := time.Now()
	good := jwt.Claims{Issuer: sys.Issuer, Subject: custA, Audience: jwt.Audience{contract.DefaultAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	roles := map[string]any{contract.DefaultRolesClaim: []string{contract.RoleCustomer}}
	sign := func(c jwt.Claims, k any, kid string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(c).Claims(roles).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	payload := func(c jwt.Claims) map[string]any {
		b, _ := json.Marshal(c)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		m[contract.DefaultRolesClaim] = []string{contract.RoleStaff}
		return m
	}
	with := func(f func(*jwt.Claims)) jwt.Claims { c := good; f(&c); return c }
	valid := sign(good, key, kid)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func() string {
		in := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(payload(good))
		m := hmac.New(sha256.New, pubPEM)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	other, _ := auth.GenerateKey()
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(payload(good)) + "." + parts[2]
	cases := []struct {
		name, header, query string
	}{
		{"expired", "Bearer " + sign(with(func(c *jwt.Claims) {
			c.IssuedAt, c.NotBefore, c.Expiry = jwt.NewNumericDate(now.Add(-2*time.Hour)), jwt.NewNumericDate(now.Add(-2*time.Hour)), jwt.NewNumericDate(now.Add(-2*time.Minute))
		}), key, kid), ""},
		{"not yet valid", "Bearer " + sign(with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) }), key, kid), ""},
		{"wrong issuer", "Bearer " + sign(with(func(c *jwt.Claims) { c.Issuer = "https://issuer.example" }), key, kid), ""},
		{"wrong audience", "Bearer " + sign(with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"someone-else"} }), key, kid), ""},
		{"alg none", "Bearer " + b64(map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(payload(good)) + ".", ""},
		{"HS256 with the public key", "Bearer " + hs, ""},
		{"tampered payload", "Bearer " + tampered, ""},
		{"unknown kid", "Bearer " + sign(good, other, "no-such-kid"), ""},
		{"malformed header", "Token " + valid, ""},
		{"malformed token", "Bearer not.a.jwt", ""},
		{"token in the query string", "", "?access_token=" + valid},
	}
	for _, base := range []string{sys.Gateway(), sys.URLs[contract.Reservation]} {
		do := func(header, query string) (*http.Response, []byte) {
			req, _ := http.NewRequest("GET", base+contract.PathCarReservations+query, nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		if resp, body := do("Bearer "+valid, ""); resp.StatusCode != 200 {
			t.Fatalf("%s: the good token answered %d %s", base, resp.StatusCode, body)
		}
		for _, c := range cases {
			resp, body := do(c.header, c.query)
			if resp.StatusCode != 401 {
				t.Errorf("%s %s: %d %s, want 401", base, c.name, resp.StatusCode, body)
				continue
			}
			if h := resp.Header.Get("WWW-Authenticate"); h != `Bearer realm="carrental", error="invalid_token"` {
				t.Errorf("%s %s: WWW-Authenticate %q", base, c.name, h)
			}
			var eb map[string]any
			if json.Unmarshal(body, &eb) != nil || eb["code"] != "unauthenticated" {
				t.Errorf("%s %s: body %s", base, c.name, body)
			}
		}
	}
}

// Customer B cannot see, cancel, rent or return customer A's reservation,
// reserve with A's custNo, or read A's payment: asserted on A's data
// afterwards, not only on the statuses; and a user's token cannot make
// the internal calls that only rental's identity may.
func TestCustomerBCannotTouchAsObjects(t *testing.T) {
	w := newAuthWorld(t)
	before := w.staff.expect(200, "GET", contract.PathCarReservations+"/"+w.resA, "").Map(t)
	missing := w.b.expect(404, "GET", contract.PathCarReservations+"/nosuchres", "").Map(t)
	got := w.b.expect(404, "GET", contract.PathCarReservations+"/"+w.resA, "").Map(t)
	if got["code"] != missing["code"] || strings.ReplaceAll(fmt.Sprint(got["message"]), w.resA, "X") != strings.ReplaceAll(fmt.Sprint(missing["message"]), "nosuchres", "X") {
		t.Errorf("another's reservation %v is told apart from a missing one %v", got, missing)
	}
	w.b.expect(404, "POST", contract.PathCarReservations+"/"+w.resA+"/cancel", "")
	w.b.expect(404, "POST", contract.PathCarRentals, fmt.Sprintf(`{"resrvNo":%q}`, w.resA))
	w.b.expect(404, "POST", contract.PathCarRentals+"/"+w.rentalA+"/return", "")
	w.b.expect(404, "GET", contract.PathPayments+"/"+w.payA, "")
	w.b.expect(404, "POST", contract.PathPayments+"/"+w.payA+"/cancel", "")
	w.staff.expect(201, "POST", contract.PathCarManagements, carBody("bcar01"))
	w.b.expect(403, "POST", contract.PathCarReservations, resBody("bres01", "bcar01", "bpay01", custA))
	w.b.expect(403, "POST", contract.PathPayments, payBody("bpay02", custA))
	// Around the gateway, straight to the services: the same answers, and
	// the internal move refuses a user's token whoever's it is.
	direct := newAPI(t, w.sys.URLs[contract.Reservation])
	direct.expect(401, "GET", contract.PathCarReservations+"/"+w.resA, "")
	direct.as(w.b.token).expect(404, "GET", contract.PathCarReservations+"/"+w.resA, "")
	for _, tok := range []string{w.b.token, w.a.token, w.staff.token} {
		direct.as(tok).expect(403, "POST", contract.InternalPathPrefix+contract.PathCarReservations+"/"+w.resA+"/rent", "")
	}

	after := w.staff.expect(200, "GET", contract.PathCarReservations+"/"+w.resA, "").Map(t)
	for _, k := range []string{"procStatus", "custNo", "updatedAt", "paymtNo"} {
		if before[k] != after[k] {
			t.Errorf("A's reservation %s changed: %v -> %v", k, before[k], after[k])
		}
	}
	if after["procStatus"] != "RESERVED" {
		t.Errorf("A's reservation is %v", after["procStatus"])
	}
	if p := w.staff.expect(200, "GET", contract.PathPayments+"/"+w.payA, "").Map(t); p["status"] != "APPROVED" || p["custNo"] != custA {
		t.Errorf("A's payment is now %v", p)
	}
	w.staff.expect(404, "GET", contract.PathCarRentals+"/rental-"+w.resA, "")
	if r := w.staff.expect(200, "GET", contract.PathCarRentals+"/"+w.rentalA, "").Map(t); r["procStatus"] != "RENTED" {
		t.Errorf("A's rental is now %v", r["procStatus"])
	}
	w.staff.expect(404, "GET", contract.PathCarReservations+"/bres01", "")
	// Lists: B's hold nothing of A's, A's hold A's.
	for _, path := range []string{contract.PathCarReservations, contract.PathPayments, contract.PathCarRentals} {
		var bs, as []map[string]any
		w.b.expect(200, "GET", path, "").JSON(t, &bs)
		for _, o := range bs {
			if o["custNo"] != custB {
				t.Errorf("B's %s lists %v", path, o)
			}
		}
		w.a.expect(200, "GET", path, "").JSON(t, &as)
		if len(as) == 0 {
			t.Errorf("A's %s is empty", path)
		}
	}
	// The shop window: nothing of A's to anyone but A and staff.
	eventually(t, "the view knows A's reservation", func() error {
		if m := w.staff.call("GET", contract.PathCarInformations+"/"+w.carA, "").Map(t); m["custNo"] != custA {
			return fmt.Errorf("staff see %v", m)
		}
		return nil
	})
	for name, c := range map[string]*api{"anonymous": w.anon, "customer B": w.b} {
		m := c.expect(200, "GET", contract.PathCarInformations+"/"+w.carA, "").Map(t)
		for _, k := range []string{"custNo", "resrvNo", "paymtNo", "rentalNo", "resrvStatus", "paymentStatus"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s sees %s of A's car: %v", name, k, m)
			}
		}
	}
	if m := w.a.expect(200, "GET", contract.PathCarInformations+"/"+w.carA, "").Map(t); m["resrvNo"] != w.resA {
		t.Errorf("A does not see their own reservation in the view: %v", m)
	}
}
