package packetizer

import "encoding/binary"

// Extension ids and the data lengths the clients write.
const (
	extIDPadding       = 0
	extIDE2EE          = 1
	extIDUserTimestamp = 2

	e2eeLen          = 13 // key index + 12-byte IV
	userTimestampLen = 8
)

// E2EETagLen is what end-to-end encryption adds to a frame's payload:
// AES-GCM's 16-byte tag, as LiveKit's clients seal data-track frames. The
// sealing side (outgoing) and the opening side (incoming) both use it.
const E2EETagLen = 16

// E2EE is the end-to-end encryption extension: which key sealed the frame
// and with which IV.
type E2EE struct {
	KeyIndex uint8
	IV       [12]byte
}

// Extensions are the optional per-frame fields. Presence flags rather than
// pointers keep packetizing free of allocations.
type Extensions struct {
	HasE2EE          bool
	E2EE             E2EE
	HasUserTimestamp bool
	UserTimestamp    uint64 // by convention UNIX milliseconds
}

// dataLen is the byte length of the extensions without length word and padding.
func (e *Extensions) dataLen() int {
	n := 0
	if e.HasE2EE {
		n += 2 + e2eeLen
	}
	if e.HasUserTimestamp {
		n += 2 + userTimestampLen
	}
	return n
}

// appendTo writes E2EE first, then the user timestamp, as both clients do.
func (e *Extensions) appendTo(dst []byte) []byte {
	if e.HasE2EE {
		dst = append(dst, extIDE2EE, e2eeLen, e.E2EE.KeyIndex)
		dst = append(dst, e.E2EE.IV[:]...)
	}
	if e.HasUserTimestamp {
		dst = append(dst, extIDUserTimestamp, userTimestampLen)
		dst = binary.BigEndian.AppendUint64(dst, e.UserTimestamp)
	}
	return dst
}

// parse reads the extensions in block (which excludes the length word).
// base is block's offset in the packet, for error positions.
//
// Id 0 is padding: like the SFU we stop there, since the clients only pad
// at the end. Unknown ids are skipped by their length. A known id whose
// length differs from its definition (the SFU's test utilities put a
// participant SID under id 1) is skipped as unknown rather than rejected,
// matching Rust's tolerance for forward-compatible senders.
func (e *Extensions) parse(block []byte, base int) error {
	for i := 0; i < len(block); {
		id := block[i]
		if id == extIDPadding {
			return nil
		}
		if i+2 > len(block) {
			return decodeErr(ReasonMalformedExtension, base+i, "extension length missing")
		}
		n := int(block[i+1])
		data := i + 2
		if data+n > len(block) {
			return decodeErr(ReasonMalformedExtension, base+i, "extension runs past its block")
		}
		switch {
		case id == extIDE2EE && n == e2eeLen:
			e.HasE2EE = true
			e.E2EE.KeyIndex = block[data]
			copy(e.E2EE.IV[:], block[data+1:data+e2eeLen])
		case id == extIDUserTimestamp && n == userTimestampLen:
			e.HasUserTimestamp = true
			e.UserTimestamp = binary.BigEndian.Uint64(block[data:])
		}
		i = data + n
	}
	return nil
}
