package broker_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/slimid/slimid/broker"
	brokerv1 "github.com/slimid/slimid/sdk/proto/broker/v1"
)

// Broker API methods a fuzz input can call.
const (
	callVerify byte = iota
	callFetchToken
	apiCalls
)

// FuzzBrokerAPI feeds arbitrary VerifyRequest and FetchTokenRequest bytes
// to the broker API server, in front of a built-in shared-secret plugin. It
// must never panic, never accept a token whose MAC was not made with the
// secret or whose time is outside the validity window, and every token it
// hands out must verify.
func FuzzBrokerAPI(f *testing.F) {
	b := start(f, "plugins:\n"+entry(f, "team", secretA, false, ""))
	srv := broker.NewServer(b, nil, "", nil)
	fresh := mint(f, minter(f, secretA))
	verify := func(req *brokerv1.VerifyRequest) []byte { raw, _ := proto.Marshal(req); return raw }
	fetch := func(req *brokerv1.FetchTokenRequest) []byte { raw, _ := proto.Marshal(req); return raw }
	// Seeds made now carry a token inside its validity window; those in
	// testdata/fuzz/FuzzBrokerAPI are fixed bytes.
	f.Add(callVerify, verify(&brokerv1.VerifyRequest{Token: fresh}))
	f.Add(callVerify, verify(&brokerv1.VerifyRequest{Plugin: "team", Token: fresh, Audiences: []string{"slim"}}))
	f.Add(callVerify, verify(&brokerv1.VerifyRequest{Token: tamper(fresh)}))
	f.Add(callFetchToken, fetch(&brokerv1.FetchTokenRequest{Plugin: "team", Audiences: []string{"slim"}, PublicKey: make([]byte, 32), TtlHint: durationpb.New(time.Minute)}))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, call byte, raw []byte) {
		switch call % apiCalls {
		case callVerify:
			req := &brokerv1.VerifyRequest{}
			if proto.Unmarshal(raw, req) != nil {
				return
			}
			resp, err := srv.Verify(ctx, req)
			if err != nil {
				wantCode(t, err, codes.Unauthenticated, codes.NotFound)
				return
			}
			if why := notMintedWith(secretA, req.GetToken(), time.Now()); why != "" {
				t.Fatalf("accepted %q: %s", req.GetToken(), why)
			}
			if sub := resp.GetIdentity().GetSubject(); sub != strings.SplitN(req.GetToken(), ":", 2)[0] {
				t.Fatalf("accepted %q as subject %q", req.GetToken(), sub)
			}
		case callFetchToken:
			req := &brokerv1.FetchTokenRequest{}
			if proto.Unmarshal(raw, req) != nil {
				return
			}
			resp, err := srv.FetchToken(ctx, req)
			if err != nil {
				wantCode(t, err, codes.InvalidArgument, codes.NotFound)
				return
			}
			tok := resp.GetToken().GetValue()
			if why := notMintedWith(secretA, tok, time.Now()); why != "" {
				t.Fatalf("handed out %q: %s", tok, why)
			}
			if _, err := srv.Verify(ctx, &brokerv1.VerifyRequest{Plugin: req.GetPlugin(), Token: tok, Audiences: req.GetAudiences()}); err != nil {
				t.Fatalf("a token the broker handed out (%d bytes, for audiences %q and a %d-byte key) does not verify: %v", len(tok), req.GetAudiences(), len(req.GetPublicKey()), err)
			}
		}
	})
}

// wantCode fails unless err is a gRPC status with one of the codes.
func wantCode(t *testing.T, err error, want ...codes.Code) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error is not a gRPC status: %v", err)
	}
	for _, c := range want {
		if st.Code() == c {
			return
		}
	}
	t.Fatalf("error code %s (%v); want one of %v", st.Code(), err, want)
}

// notMintedWith says why tok is not a shared-secret token minted with
// secret and valid at now, or "" if it is. It is written from SLIM's format
// alone: the MAC must be the canonical base64url of HMAC-SHA256 over the
// text before the last colon, and the time at most 5 s ahead and 3600 s
// behind.
func notMintedWith(secret, tok string, now time.Time) string {
	fields := strings.Split(tok, ":")
	if len(fields) != 5 {
		return "not five fields"
	}
	signed := tok[:strings.LastIndexByte(tok, ':')]
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signed))
	if fields[4] != base64.RawURLEncoding.EncodeToString(m.Sum(nil)) {
		return "MAC not made with the secret"
	}
	ts, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return "timestamp not a number"
	}
	// A second either way for the clock ticking between verdict and check.
	if ts > now.Unix()+5+1 || ts < now.Unix()-3600-1 {
		return "timestamp outside the validity window"
	}
	return ""
}

// FuzzParseConfig: any bytes give a configuration or a one-line error,
// never a panic; an accepted configuration holds what validation promises.
// Seeds: testdata/fuzz/FuzzParseConfig, named after their case.
func FuzzParseConfig(f *testing.F) {
	dir := f.TempDir()
	writeFile(f, dir, "corp.yaml", "verifier: {}\n")
	f.Fuzz(func(t *testing.T, raw []byte) {
		// config_file reads what it names: keep the fuzzer away from
		// device and kernel files that never end.
		for _, risky := range []string{"dev/", "proc/", "sys/"} {
			if strings.Contains(string(raw), risky) {
				return
			}
		}
		cfg, err := broker.ParseConfig(raw, dir)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
			return
		}
		if len(cfg.Plugins) == 0 {
			t.Fatal("accepted a configuration without plugins")
		}
		seen := map[string]bool{}
		for i, p := range cfg.Plugins {
			if p.Name == "" || seen[p.Name] {
				t.Fatalf("plugins[%d]: accepted the name %q (empty or used twice)", i, p.Name)
			}
			seen[p.Name] = true
			if (p.Type == "") == (p.Path == "") {
				t.Fatalf("plugins[%d]: accepted type %q with path %q; want exactly one", i, p.Type, p.Path)
			}
			if p.Path != "" && (!strings.HasPrefix(p.Path, "/") || p.SHA256 == "") {
				t.Fatalf("plugins[%d]: accepted an external plugin at %q with sha256 %q", i, p.Path, p.SHA256)
			}
		}
		if _, err := cfg.SocketModeBits(); err != nil {
			t.Fatalf("accepted socket_mode %q: %v", cfg.SocketMode, err)
		}
	})
}
