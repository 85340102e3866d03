package session

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/livekit/protocol/auth"
)

// tokenTTL covers a long demo; dttui re-mints on every full reconnect anyway.
const tokenTTL = 6 * time.Hour

// mintToken signs a join token for identity in room. canPublishData is
// explicit so a restricted key cannot silently change the test.
func mintToken(key, secret, room, identity string, publishData bool, hidden bool) (string, error) {
	if key == "" || secret == "" {
		return "", errors.New("an API key and secret are needed to mint a token")
	}
	at := auth.NewAccessToken(key, secret).
		SetIdentity(identity).
		SetValidFor(tokenTTL).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:       true,
			Room:           room,
			CanPublishData: &publishData,
			CanSubscribe:   ptr(true),
			Hidden:         hidden,
		})
	return at.ToJWT()
}

func ptr[T any](v T) *T { return &v }

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// identityFromToken reads the identity a token grants, without verifying
// it (the server does), so the status line can show it before joining.
func identityFromToken(token string) string {
	t, err := auth.ParseAPIToken(token)
	if err != nil {
		return ""
	}
	return t.Identity()
}
