// Package proof is how a member shows the moderator, on one Connect stream,
// that it holds the MLS signature key of a leaf or of a key package: it signs
// a statement naming the stream's challenge nonce, its participant name, the
// channel and the leaf (or key package reference) with that key. A key
// package someone else sent, or a proof made for another stream, does not
// verify. The statement's layout is specified in
// sdk/proto/moderator/v1/moderator.proto, so members in other languages can
// make it.
//
// A member signs with the mls.Signer of its leaf or key package:
//
//	signer, err := mls.GenerateSigner(mls.SuiteP256AES128GCM)
//	// ... a key package for signer, sent in a JoinReply with:
//	sig, err := proof.Sign(signer, proof.KeyPackage(nonce, "org/ns/alice", "org/ns/chat", ref))
//
// The moderator checks it against the key package's (or the roster's) key:
//
//	err := proof.Verify(suite, kp.SignatureKey(), proof.KeyPackage(nonce, participant, channel, kp.Ref()), sig)
//	if errors.Is(err, proof.ErrInvalid) { /* refuse */ }
package proof
