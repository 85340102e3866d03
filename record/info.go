package record

import (
	"sort"
	"time"

	"github.com/foxglove/mcap/go/mcap"
)

// Summary is what `mcap info` tells of a file, from its summary section.
type Summary struct {
	Library, Profile string
	Messages         uint64
	Start, End       time.Time // log times of the first and last message
	Chunks           []ChunkTotals
	Channels         []ChannelSummary
	Schemas          []SchemaSummary
	Attachments      int
	Metadata         int
	// Scanned: the file has no summary (a recording cut short) and this
	// is what Scan counted of its complete chunks; Library, Profile,
	// Chunks, Attachments and Metadata are not known.
	Scanned bool
}

// Duration is End - Start.
func (s *Summary) Duration() time.Duration { return s.End.Sub(s.Start) }

// ChunkTotals adds up the chunks of one compression.
type ChunkTotals struct {
	Compression              string // "" is none
	Chunks                   int
	Compressed, Uncompressed uint64
}

// ChannelSummary is one channel and how many messages it holds.
type ChannelSummary struct {
	ID              uint16
	Topic           string
	MessageEncoding string
	Messages        uint64
	SchemaID        uint16
	Metadata        map[string]string
}

// SchemaSummary is one schema.
type SchemaSummary struct {
	ID             uint16
	Name, Encoding string
	Size           int
}

// Summarize reads a file's summary (an error for a file without one: a
// recording cut short, which Read still reads).
func Summarize(path string) (*Summary, error) {
	in, err := infoOf(path)
	if err != nil {
		return nil, err
	}
	s := &Summary{Library: in.Header.Library, Profile: in.Header.Profile,
		Attachments: len(in.AttachmentIndexes), Metadata: len(in.MetadataIndexes)}
	if st := in.Statistics; st != nil {
		s.Messages = st.MessageCount
		if st.MessageCount > 0 {
			s.Start, s.End = time.Unix(0, int64(st.MessageStartTime)), time.Unix(0, int64(st.MessageEndTime))
		}
	}
	byComp := map[string]*ChunkTotals{}
	for _, ci := range in.ChunkIndexes {
		c := byComp[string(ci.Compression)]
		if c == nil {
			c = &ChunkTotals{Compression: string(ci.Compression)}
			byComp[c.Compression] = c
		}
		c.Chunks++
		c.Compressed += ci.CompressedSize
		c.Uncompressed += ci.UncompressedSize
	}
	for _, c := range byComp {
		s.Chunks = append(s.Chunks, *c)
	}
	sort.Slice(s.Chunks, func(i, j int) bool { return s.Chunks[i].Compression < s.Chunks[j].Compression })
	for id, ch := range in.Channels {
		cs := ChannelSummary{ID: id, Topic: ch.Topic, MessageEncoding: ch.MessageEncoding, SchemaID: ch.SchemaID, Metadata: ch.Metadata}
		if in.Statistics != nil {
			cs.Messages = in.Statistics.ChannelMessageCounts[id]
		}
		s.Channels = append(s.Channels, cs)
	}
	sort.Slice(s.Channels, func(i, j int) bool { return s.Channels[i].ID < s.Channels[j].ID })
	for id, sc := range in.Schemas {
		s.Schemas = append(s.Schemas, SchemaSummary{ID: id, Name: sc.Name, Encoding: sc.Encoding, Size: len(sc.Data)})
	}
	sort.Slice(s.Schemas, func(i, j int) bool { return s.Schemas[i].ID < s.Schemas[j].ID })
	return s, nil
}

// Scan is Summarize for a file without a summary (a recording cut short):
// it counts what Read reads, the messages of the complete chunks.
func Scan(path string) (*Summary, error) {
	s := &Summary{Scanned: true}
	chans := map[uint16]*ChannelSummary{}
	schemas := map[uint16]SchemaSummary{}
	var start, end uint64
	err := Read(path, func(ch *Channel, m *mcap.Message) error {
		if s.Messages == 0 || m.LogTime < start {
			start = m.LogTime
		}
		end = max(end, m.LogTime)
		s.Messages++
		c := chans[ch.ID]
		if c == nil {
			r := ch.Record
			c = &ChannelSummary{ID: r.ID, Topic: r.Topic, MessageEncoding: r.MessageEncoding, SchemaID: r.SchemaID, Metadata: r.Metadata}
			chans[ch.ID] = c
			if sc := ch.Schema; sc != nil && sc.ID != 0 {
				schemas[sc.ID] = SchemaSummary{ID: sc.ID, Name: sc.Name, Encoding: sc.Encoding, Size: len(sc.Data)}
			}
		}
		c.Messages++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Messages > 0 {
		s.Start, s.End = time.Unix(0, int64(start)), time.Unix(0, int64(end))
	}
	for _, c := range chans {
		s.Channels = append(s.Channels, *c)
	}
	sort.Slice(s.Channels, func(i, j int) bool { return s.Channels[i].ID < s.Channels[j].ID })
	for _, sc := range schemas {
		s.Schemas = append(s.Schemas, sc)
	}
	sort.Slice(s.Schemas, func(i, j int) bool { return s.Schemas[i].ID < s.Schemas[j].ID })
	return s, nil
}
