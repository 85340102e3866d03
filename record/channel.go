package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/foxglove/mcap/go/mcap"
)

// FindTopic returns the channel of one topic of the file at path, with
// the track it declares: topic's, or the file's only one when topic is
// "" (its first channel, when a republish made several). A sealed channel (an
// E2EE track recorded as received) is refused: it needs the passphrase
// `dttui replay` takes.
func FindTopic(path, topic string) (*Channel, error) {
	var found *Channel
	var topics []string
	err := Read(path, func(ch *Channel, _ *mcap.Message) error {
		switch {
		case topic != "" && ch.Topic == topic:
			found = ch
			return errFound
		case !slices.Contains(topics, ch.Topic):
			topics = append(topics, ch.Topic)
			if found == nil {
				found = ch
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	switch {
	case len(topics) == 0 && found == nil:
		return nil, fmt.Errorf("no messages")
	case topic == "" && len(topics) > 1:
		return nil, fmt.Errorf("%d topics (%s): name one, FILE:TOPIC", len(topics), strings.Join(topics, ", "))
	case topic != "" && found.Topic != topic:
		return nil, fmt.Errorf("no messages on topic %q (topics: %s)", topic, strings.Join(topics, ", "))
	case found.Track.Sealed:
		return nil, fmt.Errorf("topic %q was recorded encrypted, as received: play it with dttui replay and the room's passphrase", found.Topic)
	}
	return found, nil
}

// errFound stops a scan that found what it looked for.
var errFound = errors.New("found")

// TopicReader yields the messages of one topic of a recording, in file
// order, as frames (source.Reader's shape); LogTime says when the last
// one was logged, for a caller that plays them at the recorded timing.
// A frame is valid until the next call. Close must be called.
type TopicReader struct {
	next    func() (*mcap.Message, error, bool)
	stop    func()
	logTime uint64
}

// OpenTopic reads topic of the file at path ("": its only topic, as
// FindTopic).
func OpenTopic(ctx context.Context, path, topic string) (*TopicReader, error) {
	found, err := FindTopic(path, topic)
	if err != nil {
		return nil, err
	}
	want := func(ch *Channel) bool { return ch.Topic == found.Topic }
	seq := func(yield func(*mcap.Message, error) bool) {
		err := Read(path, func(ch *Channel, m *mcap.Message) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !want(ch) {
				return nil
			}
			if !yield(m, nil) {
				return errFound
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			yield(nil, err)
		}
	}
	next, stop := iter.Pull2(seq)
	return &TopicReader{next: next, stop: stop}, nil
}

// Next returns the next message's bytes, io.EOF after the last.
func (r *TopicReader) Next() ([]byte, error) {
	m, err, ok := r.next()
	switch {
	case !ok:
		return nil, io.EOF
	case err != nil:
		return nil, err
	}
	r.logTime = m.LogTime
	return m.Data, nil
}

// LogTime is the log time (ns) of the message Next returned last.
func (r *TopicReader) LogTime() uint64 { return r.logTime }

// Close ends the read.
func (r *TopicReader) Close() error {
	r.stop()
	return nil
}
