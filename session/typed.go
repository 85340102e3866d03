package session

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dttui/dttui/schema"
	"github.com/livekit/protocol/livekit"
)

// The protocol's frame encoding, schema ID and data-blob messages, to and
// from the schema package's values.

func frameToProto(f schema.FrameEncoding) *livekit.DataTrackFrameEncoding {
	if f.IsZero() {
		return nil
	}
	if f.WellKnown == schema.FrameCustom {
		return &livekit.DataTrackFrameEncoding{Value: &livekit.DataTrackFrameEncoding_Custom{Custom: f.Custom}}
	}
	return &livekit.DataTrackFrameEncoding{Value: &livekit.DataTrackFrameEncoding_WellKnown{
		WellKnown: livekit.DataTrackFrameEncoding_WellKnownFrameEncoding(f.WellKnown)}}
}

func frameFromProto(f *livekit.DataTrackFrameEncoding) schema.FrameEncoding {
	switch v := f.GetValue().(type) {
	case *livekit.DataTrackFrameEncoding_Custom:
		return schema.FrameEncoding{Custom: v.Custom}
	case *livekit.DataTrackFrameEncoding_WellKnown:
		return schema.FrameEncoding{WellKnown: schema.Frame(v.WellKnown)}
	}
	return schema.FrameEncoding{}
}

func schemaToProto(id schema.ID) *livekit.DataTrackSchemaId {
	if id.IsZero() {
		return nil
	}
	enc := &livekit.DataTrackSchemaEncoding{}
	if id.Encoding.WellKnown == schema.EncodingCustom {
		enc.Value = &livekit.DataTrackSchemaEncoding_Custom{Custom: id.Encoding.Custom}
	} else {
		enc.Value = &livekit.DataTrackSchemaEncoding_WellKnown{
			WellKnown: livekit.DataTrackSchemaEncoding_WellKnownSchemaEncoding(id.Encoding.WellKnown)}
	}
	return &livekit.DataTrackSchemaId{Name: id.Name, Encoding: enc}
}

func schemaFromProto(id *livekit.DataTrackSchemaId) schema.ID {
	if id == nil {
		return schema.ID{}
	}
	out := schema.ID{Name: id.GetName()}
	switch v := id.GetEncoding().GetValue().(type) {
	case *livekit.DataTrackSchemaEncoding_Custom:
		out.Encoding = schema.SchemaEncoding{Custom: v.Custom}
	case *livekit.DataTrackSchemaEncoding_WellKnown:
		out.Encoding = schema.SchemaEncoding{WellKnown: schema.Encoding(v.WellKnown)}
	}
	return out
}

func declFromProto(f *livekit.DataTrackFrameEncoding, id *livekit.DataTrackSchemaId) schema.Decl {
	return schema.Decl{Frame: frameFromProto(f), Schema: schemaFromProto(id)}
}

// Schema blobs: a schema's definition is stored in the room as a data blob
// keyed by its ID (StoreDataBlobRequest), and read back by anyone in the
// room who knows the publisher's identity (GetDataBlobRequest). Both are
// answered by request ID: a response, or a RequestResponse with the
// reason.

// Sentinels for errors.Is on a *BlobError.
var (
	// ErrBlobsDisabled: the server does not store data blobs
	// (enable_participant_data_blob is off; livekit-server's default).
	ErrBlobsDisabled = errors.New("the server does not store schemas (enable_participant_data_blob is off)")
	// ErrBlobInvalid: the server refused the blob (empty, or its key).
	ErrBlobInvalid = errors.New("the server refused the schema")
	// ErrBlobLimit: the participant's blobs would exceed the server's limit.
	ErrBlobLimit = errors.New("the schemas stored by this participant would exceed the server's limit")
	// ErrBlobNotFound: no such blob (or no such participant).
	ErrBlobNotFound = errors.New("no such schema in the room")
)

// BlobError is why storing or reading a schema failed.
type BlobError struct {
	Kind      error // one of the sentinels, or nil for another reason
	SFUReason int32 // RequestResponse.Reason
	Message   string
	Err       error // the transport's error, or ctx's
}

func (e *BlobError) Error() string {
	msg := "schema blob"
	if e.Kind != nil {
		msg = e.Kind.Error()
	}
	if e.Message != "" {
		msg += fmt.Sprintf(" (SFU said %s: %q)", livekit.RequestResponse_Reason(e.SFUReason), e.Message)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *BlobError) Is(target error) bool { return e.Kind == target }
func (e *BlobError) Unwrap() error        { return e.Err }

func blobError(rr *livekit.RequestResponse) *BlobError {
	e := &BlobError{SFUReason: int32(rr.GetReason()), Message: rr.GetMessage()}
	switch rr.GetReason() {
	case livekit.RequestResponse_NOT_ALLOWED:
		e.Kind = ErrBlobsDisabled
	case livekit.RequestResponse_INVALID_REQUEST:
		e.Kind = ErrBlobInvalid
	case livekit.RequestResponse_LIMIT_EXCEEDED:
		e.Kind = ErrBlobLimit
	case livekit.RequestResponse_NOT_FOUND:
		e.Kind = ErrBlobNotFound
	}
	return e
}

// blobRequests matches blob answers to their requests.
type blobRequests struct {
	mu      sync.Mutex
	next    uint32
	waiting map[uint32]chan blobAnswer
}

type blobAnswer struct {
	blob *livekit.DataBlob
	err  error
}

func (b *blobRequests) open() (uint32, chan blobAnswer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiting == nil {
		b.waiting = map[uint32]chan blobAnswer{}
	}
	b.next++
	ch := make(chan blobAnswer, 1)
	b.waiting[b.next] = ch
	return b.next, ch
}

func (b *blobRequests) close(id uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.waiting, id)
}

// answer delivers a reply; it reports whether someone waited for id.
func (b *blobRequests) answer(id uint32, a blobAnswer) bool {
	b.mu.Lock()
	ch, ok := b.waiting[id]
	delete(b.waiting, id)
	b.mu.Unlock()
	if ok {
		ch <- a
	}
	return ok
}

// StoreSchema stores a schema's definition in the room so that subscribers
// of tracks declaring it can read their frames. Publish a track with the
// schema only after this returns nil.
func (s *Session) StoreSchema(ctx context.Context, id schema.ID, definition []byte) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if len(definition) == 0 || len(definition) > schema.MaxBlobBytes {
		return &BlobError{Kind: ErrBlobInvalid, Err: fmt.Errorf("a schema definition is 1 to %d bytes, not %d", schema.MaxBlobBytes, len(definition))}
	}
	req := &livekit.StoreDataBlobRequest{Blob: &livekit.DataBlob{
		Key: &livekit.DataBlobKey{Key: &livekit.DataBlobKey_SchemaId{SchemaId: schemaToProto(id)}}, Contents: definition}}
	_, err := s.blobCall(ctx, func(rid uint32) *livekit.SignalRequest {
		req.RequestId = rid
		return &livekit.SignalRequest{Message: &livekit.SignalRequest_StoreDataBlobRequest{StoreDataBlobRequest: req}}
	})
	return err
}

// GetSchema reads the definition of schema id as stored by the participant
// with the given identity.
func (s *Session) GetSchema(ctx context.Context, identity string, id schema.ID) ([]byte, error) {
	req := &livekit.GetDataBlobRequest{ParticipantIdentity: identity,
		Key: &livekit.DataBlobKey{Key: &livekit.DataBlobKey_SchemaId{SchemaId: schemaToProto(id)}}}
	blob, err := s.blobCall(ctx, func(rid uint32) *livekit.SignalRequest {
		req.RequestId = rid
		return &livekit.SignalRequest{Message: &livekit.SignalRequest_GetDataBlobRequest{GetDataBlobRequest: req}}
	})
	if err != nil {
		return nil, err
	}
	return blob.GetContents(), nil
}

func (s *Session) blobCall(ctx context.Context, msg func(requestID uint32) *livekit.SignalRequest) (*livekit.DataBlob, error) {
	p, err := s.current()
	if err != nil {
		return nil, &BlobError{Err: err}
	}
	rid, ch := s.blobs.open()
	defer s.blobs.close(rid)
	if err := p.Send(msg(rid)); err != nil {
		return nil, &BlobError{Err: err}
	}
	select {
	case a := <-ch:
		return a.blob, a.err
	case <-ctx.Done():
		return nil, &BlobError{Err: ctx.Err()}
	}
}

// onBlobSignal routes the SFU's blob answers; it reports whether msg was one.
func (s *Session) onBlobSignal(res *livekit.SignalResponse) bool {
	switch msg := res.Message.(type) {
	case *livekit.SignalResponse_StoreDataBlobResponse:
		s.blobs.answer(msg.StoreDataBlobResponse.GetRequestId(), blobAnswer{})
	case *livekit.SignalResponse_GetDataBlobResponse:
		s.blobs.answer(msg.GetDataBlobResponse.GetRequestId(), blobAnswer{blob: msg.GetDataBlobResponse.GetBlob()})
	case *livekit.SignalResponse_RequestResponse:
		rr := msg.RequestResponse
		// Data-track requests echo themselves and carry no request ID;
		// blob requests carry theirs.
		if rr.GetRequest() != nil || rr.GetRequestId() == 0 {
			return false
		}
		return s.blobs.answer(rr.GetRequestId(), blobAnswer{err: blobError(rr)})
	default:
		return false
	}
	return true
}
