package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The node's public key infrastructure, made with crypto/x509 into
// <state>/pki. Three authorities, as kubeadm has them, so that trust does
// not leak between planes: "ca" signs the API server's serving certificate
// and every client certificate the API server and the kubelet accept;
// "etcd-ca" is the only authority etcd trusts (an admin or kubelet
// certificate must not open the database); "front-proxy-ca" signs the one
// client certificate the aggregation layer presents to extension API
// servers.

// certSpec describes one certificate.
type certSpec struct {
	name   string // file stem in pki/
	ca     string // stem of the signing authority
	cn     string
	orgs   []string
	ips    []net.IP
	dns    []string
	server bool // serving (server auth) as well as or instead of client auth
	client bool
}

// pkiSpecs lists every certificate of the node. Changing it changes only
// new state directories: existing files are kept.
func pkiSpecs() []certSpec {
	node := net.ParseIP(NodeIP)
	apiServiceIP := net.ParseIP(apiServiceIP)
	loop := net.ParseIP("127.0.0.1")
	return []certSpec{
		{name: "etcd-server", ca: "etcd-ca", cn: "etcd", ips: []net.IP{loop}, dns: []string{"localhost"}, server: true, client: true},
		{name: "apiserver-etcd-client", ca: "etcd-ca", cn: "kube-apiserver-etcd-client", client: true},
		{name: "apiserver", ca: "ca", cn: "kube-apiserver", server: true,
			ips: []net.IP{node, apiServiceIP, loop},
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + ClusterDomain}},
		// The API server calls kubelets (logs, exec) with this one; the
		// kubelet's webhook authorizer asks the API server, and
		// system:masters may do anything.
		{name: "apiserver-kubelet-client", ca: "ca", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true},
		{name: "front-proxy-client", ca: "front-proxy-ca", cn: "front-proxy-client", client: true},
		{name: "admin", ca: "ca", cn: "kubernetes-admin", orgs: []string{"system:masters"}, client: true},
		// Names the bootstrap RBAC policy already binds.
		{name: "controller-manager", ca: "ca", cn: "system:kube-controller-manager", client: true},
		{name: "scheduler", ca: "ca", cn: "system:kube-scheduler", client: true},
		{name: "kube-proxy", ca: "ca", cn: "system:kube-proxy", client: true},
		// The Node authorizer and NodeRestriction recognise a kubelet by
		// this exact identity: it may only touch its own node and pods.
		{name: "kubelet-client", ca: "ca", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}, client: true},
		// The kubelet's own serving certificate, signed by the cluster CA:
		// the API server verifies it (--kubelet-certificate-authority)
		// instead of trusting a self-signed one blindly.
		{name: "kubelet-serving", ca: "ca", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"},
			ips: []net.IP{node}, dns: []string{NodeName}, server: true},
		{name: "coredns", ca: "ca", cn: corednsUser, client: true},
		{name: "kube-router", ca: "ca", cn: kubeRouterUser, client: true}, // only with NetworkPolicy
	}
}

// ensurePKI creates whatever of the node's keys and certificates is missing.
func ensurePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, ca := range []string{"ca", "etcd-ca", "front-proxy-ca"} {
		if err := ensureCA(dir, ca); err != nil {
			return err
		}
	}
	for _, s := range pkiSpecs() {
		if err := ensureCert(dir, s); err != nil {
			return fmt.Errorf("certificate %s: %w", s.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sa.key")); errors.Is(err, os.ErrNotExist) {
		return writeServiceAccountKey(dir)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func ensureCA(dir, name string) error {
	if exists(filepath.Join(dir, name+".crt")) && exists(filepath.Join(dir, name+".key")) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "carrental-" + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return writePair(dir, name, der, key)
}

func ensureCert(dir string, s certSpec) error {
	if exists(filepath.Join(dir, s.name+".crt")) && exists(filepath.Join(dir, s.name+".key")) {
		return nil
	}
	caCert, caKey, err := loadPair(dir, s.ca)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		IPAddresses:  s.ips,
		DNSNames:     s.dns,
	}
	if s.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if s.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(dir, s.name, der, key)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func writePair(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// Key first: a certificate without its key would be taken as complete.
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func loadPair(dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, fmt.Errorf("%s: not PEM", name)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", name)
	}
	return cert, ek, nil
}

// writeKubeconfig writes a kubeconfig for the client certificate stem with
// everything embedded, so the admin's file can be copied elsewhere.
func writeKubeconfig(path, pkiDir, server, stem string) error {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(pkiDir, name))
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read(stem + ".crt")
	if err != nil {
		return err
	}
	key, err := read(stem + ".key")
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: carrental-local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: carrental-local
  context: {cluster: carrental-local, user: %s}
current-context: carrental-local
`, server, ca, stem, crt, key, stem)
	return writeIfChanged(path, []byte(cfg), 0o600)
}
