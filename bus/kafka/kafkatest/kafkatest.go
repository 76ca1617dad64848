// Package kafkatest starts in-process Kafka clusters (twmb/franz-go's kfake,
// which speaks the Kafka protocol on loopback) for tests of keytrail's Kafka
// bus, and tunes consumers to join groups quickly.
package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus/kafka"
)

// Partitions is the partition count of topics the test clusters create.
const Partitions = 4

// Start starts a kfake cluster of one broker with extra options (SASL, TLS,
// seed topics), closed when the test ends, and returns it with a Conn to it.
func Start(tb testing.TB, opts ...kfake.Opt) (*kfake.Cluster, kafka.Conn) {
	tb.Helper()
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c, kafka.Conn{Brokers: c.ListenAddrs(), DialTimeout: 2 * time.Second}
}

// Consumer returns cfg with group timings short enough for tests (a member
// that leaves is replaced within a second or two).
func Consumer(cfg kafka.ConsumerConfig) kafka.ConsumerConfig {
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 300 * time.Millisecond
	cfg.RebalanceTimeout = 2 * time.Second
	cfg.JoinGroupBackoff = 200 * time.Millisecond
	return cfg
}

// TLS returns a self-signed server certificate for 127.0.0.1 (for
// kfake.TLS), a client TLS config that trusts it, and the certificate as
// PEM (a CA file).
func TLS(tb testing.TB) (server, client *tls.Config, caPEM []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kfake"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(tb, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
