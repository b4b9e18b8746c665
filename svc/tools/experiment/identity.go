package experiment

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/carrental/carrental/svc/contract"
)

// who is the person an experiment's request is made as.
type who struct {
	subject string
	roles   []string
}

// operator is the one running the runbook, as the write-up's authors did
// with curl: staff, who may register cars and watch everything. The
// customers' own steps of the story go as the customer (asCustomer).
var operator = who{subject: "staff-experiments", roles: []string{contract.RoleStaff}}

func asCustomer(custNo string) who {
	return who{subject: custNo, roles: []string{contract.RoleCustomer}}
}

// authorization is the Authorization header for w, minted once per
// subject; "" when the Env has no Token (a stack with authMode off).
func (e *Env) authorization(w who) (string, error) {
	if e.Token == nil {
		return "", nil
	}
	e.tokensMu.Lock()
	defer e.tokensMu.Unlock()
	key := w.subject + "|" + strings.Join(w.roles, ",")
	if h, ok := e.tokens[key]; ok {
		return h, nil
	}
	tok, err := e.Token(w.subject, w.roles...)
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", w.subject, err)
	}
	if e.tokens == nil {
		e.tokens = map[string]string{}
	}
	h := "Bearer " + tok
	e.tokens[key] = h
	return h, nil
}

// operatorHeader is the operator's headers for the load the experiments
// send (loadgen.Options.Header).
func (e *Env) operatorHeader() (http.Header, error) {
	h, err := e.authorization(operator)
	if err != nil || h == "" {
		return nil, err
	}
	return http.Header{"Authorization": {h}}, nil
}
