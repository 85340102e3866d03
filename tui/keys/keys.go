// Package keys is dttui's key map: every binding, with the help text the
// footer and the full help show.
package keys

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every binding.
type KeyMap struct {
	Up, Down        key.Binding
	Publish         key.Binding
	Cancel          key.Binding
	Unpublish       key.Binding
	PushOne         key.Binding
	Burst           key.Binding // waits for queue room: every frame sent
	Flood           key.Binding // pushes at once: what the queue cannot hold drops
	BurstMore       key.Binding
	BurstLess       key.Binding
	Generator       key.Binding
	RateUp, RateDn  key.Binding
	SizeUp, SizeDn  key.Binding
	Sort            key.Binding
	Reset           key.Binding
	Pause           key.Binding
	Detail          key.Binding
	Charts          key.Binding // the chart pane on/off
	ChartWindow     key.Binding // its window: 1, 5, 15 minutes
	Logs            key.Binding
	Help            key.Binding
	Quit            key.Binding
	Interrupt       key.Binding // ctrl+c: quits from anywhere, the prompt included; twice quits at once
	Retry           key.Binding // after a failed connect (r is reset counters once connected)
	PromptSubmit    key.Binding
	PromptToggleE2E key.Binding
	PromptEncoding  key.Binding
	PromptCancel    key.Binding
	Filter          key.Binding // the table's name filter (the log pane's search while it has the keys)
	FilterKeep      key.Binding // in the filter input
	FilterClear     key.Binding // in the filter input, and on the table while a filter is set
	Remove          key.Binding // an unpublished or failed row
	RemoveAll       key.Binding // every unpublished and failed row
	Subscribe       key.Binding // a room row: unsubscribe, or subscribe again
	Source          key.Binding // push a file's frames into the selected track
	SourceSubmit    key.Binding // in the source prompt: push
	SourceFraming   key.Binding // in the source prompt: the next framing
	SourcePace      key.Binding // in the source prompt: as fast as taken, or at the track's rate
	Impair          key.Binding // the prompt that impairs our own path
	Record          key.Binding // record the room to MCAP, or stop
	// The replay's keys (dttui replay --ui).
	ReplayPause        key.Binding
	SeekBack, SeekFwd  key.Binding
	SpeedDown, SpeedUp key.Binding
	ImpairSubmit       key.Binding // in the impairment prompt: apply
	PickJoin           key.Binding // in the room picker: join the selected room
	PickNew            key.Binding // in the room picker: type a new room's name
	PickCreate         key.Binding // in the room picker's name input: join that room

	Log LogKeys
	// HelpScroll are the keys that scroll the full help instead of
	// closing it.
	HelpUp, HelpDown, HelpPageUp, HelpPageDown key.Binding
	HelpClose                                  key.Binding // help text only: any other key closes
}

// LogKeys are the log pane's keys, active while it has the focus (l).
type LogKeys struct {
	Up, Down             key.Binding
	PageUp, PageDown     key.Binding
	HalfUp, HalfDown     key.Binding
	Top, Bottom          key.Binding
	Follow               key.Binding
	Wrap                 key.Binding
	Level                key.Binding
	Origins              [4]key.Binding // dttui, sdk, pion, sfu
	OriginsHelp          key.Binding    // the four, for the full help
	Sources              key.Binding    // the four, for the footer
	Search               key.Binding
	Next, Prev           key.Binding
	Back                 key.Binding
	SearchDone, SearchNo key.Binding // in the search input
}

// Default is the key map dttui ships.
func Default() KeyMap {
	b := key.NewBinding
	keys, h := key.WithKeys, key.WithHelp
	return KeyMap{
		Up:              b(keys("up", "k"), h("↑/k", "up")),
		Down:            b(keys("down", "j"), h("↓/j", "down")),
		Publish:         b(keys("p"), h("p", "publish")),
		Cancel:          b(keys("c"), h("c", "cancel pending")),
		Unpublish:       b(keys("u"), h("u", "unpublish")),
		PushOne:         b(keys(" ", "enter"), h("space", "push 1")),
		Burst:           b(keys("b"), h("b", "burst")),
		Flood:           b(keys("f"), h("f", "flood (drops)")),
		BurstMore:       b(keys("B"), h("B/N", "burst size ×10/÷10")),
		BurstLess:       b(keys("N")),
		Generator:       b(keys("g"), h("g", "generator on/off")),
		RateUp:          b(keys("+", "="), h("+/-", "rate")),
		RateDn:          b(keys("-", "_")),
		SizeUp:          b(keys("]"), h("[/]", "frame size")),
		SizeDn:          b(keys("[")),
		Sort:            b(keys("s"), h("s", "sort")),
		Reset:           b(keys("r"), h("r", "reset counters")),
		Pause:           b(keys("z"), h("z", "pause display")),
		Detail:          b(keys("d", "tab"), h("d", "detail")),
		Charts:          b(keys("t"), h("t", "charts")),
		ChartWindow:     b(keys("w"), h("w", "chart window")),
		Logs:            b(keys("l"), h("l", "logs")),
		Help:            b(keys("?"), h("?", "help")),
		Quit:            b(keys("q", "ctrl+c"), h("q", "quit")),
		Interrupt:       b(keys("ctrl+c"), h("ctrl+c", "quit")),
		Retry:           b(keys("r"), h("r", "retry connect")),
		PromptSubmit:    b(keys("enter"), h("enter", "publish")),
		PromptToggleE2E: b(keys("tab"), h("tab", "E2EE on/off")),
		PromptEncoding:  b(keys("ctrl+t"), h("ctrl+t", "frame encoding: untyped, json, cbor, msgpack")),
		PromptCancel:    b(keys("esc"), h("esc", "cancel")),
		Filter:          b(keys("/"), h("/", "filter by name")),
		FilterKeep:      b(keys("enter"), h("enter", "keep filter")),
		FilterClear:     b(keys("esc"), h("esc", "clear filter")),
		Remove:          b(keys("x"), h("x/X", "remove ended row / all")),
		RemoveAll:       b(keys("X")),
		Subscribe:       b(keys("S"), h("S", "(un)subscribe room track")),
		Source:          b(keys("o"), h("o", "push a file's frames")),
		SourceSubmit:    b(keys("enter"), h("enter", "push")),
		SourceFraming:   b(keys("tab"), h("tab", "framing")),
		SourcePace:      b(keys("shift+tab"), h("shift+tab", "pace")),
		Impair:          b(keys("i"), h("i", "impair our path")),
		Record:          b(keys("R"), h("R", "record to MCAP on/off")),
		ReplayPause:     b(keys("P"), h("P", "pause/resume the replay")),
		SeekBack:        b(keys("<"), h("</>", "seek the replay ∓10s")),
		SeekFwd:         b(keys(">")),
		SpeedDown:       b(keys("("), h("(/)", "replay speed ÷2/×2")),
		SpeedUp:         b(keys(")")),
		ImpairSubmit:    b(keys("enter"), h("enter", "apply")),
		PickJoin:        b(keys("enter"), h("enter", "join room")),
		PickNew:         b(keys("n"), h("n", "new room")),
		PickCreate:      b(keys("enter"), h("enter", "join (empty: a generated name)")),
		Log: LogKeys{
			Up:          b(keys("up", "k"), h("↑/↓", "scroll")),
			Down:        b(keys("down", "j")),
			PageUp:      b(keys("pgup", "ctrl+b"), h("pgup/pgdn", "page")),
			PageDown:    b(keys("pgdown", "ctrl+f")),
			HalfUp:      b(keys("ctrl+u"), h("ctrl+u/d", "half page")),
			HalfDown:    b(keys("ctrl+d")),
			Top:         b(keys("home"), h("home/end", "oldest/newest")),
			Bottom:      b(keys("end")),
			Follow:      b(keys("f"), h("f", "follow")),
			Wrap:        b(keys("w"), h("w", "wrap")),
			Level:       b(keys("v"), h("v", "level filter")),
			Origins:     [4]key.Binding{b(keys("1")), b(keys("2")), b(keys("3")), b(keys("4"))},
			OriginsHelp: b(keys("1", "2", "3", "4"), h("1-4", "dttui/sdk/pion/sfu")),
			Sources:     b(keys("1", "2", "3", "4"), h("1-4", "sources")),
			Search:      b(keys("/"), h("/", "search")),
			Next:        b(keys("n"), h("n/N", "next/prev match")),
			Prev:        b(keys("N")),
			Back:        b(keys("esc"), h("esc", "close logs")),
			SearchDone:  b(keys("enter"), h("enter", "find")),
			SearchNo:    b(keys("esc"), h("esc", "clear")),
		},
		HelpUp:       b(keys("up", "k"), h("↑/↓", "scroll")),
		HelpDown:     b(keys("down", "j")),
		HelpPageUp:   b(keys("pgup")),
		HelpPageDown: b(keys("pgdown")),
		HelpClose:    b(keys("esc"), h("any key", "closes")),
	}
}

// RoomHelp is the footer while a room row is selected: what acts on it.
func (k KeyMap) RoomHelp() []key.Binding {
	return []key.Binding{k.Subscribe, k.Remove, k.Detail, k.Charts, k.Filter, k.Sort, k.Publish, k.Logs}
}

// SubscribeOnlyHelp is the footer of a run that publishes nothing.
func (k KeyMap) SubscribeOnlyHelp() []key.Binding {
	return []key.Binding{k.Subscribe, k.Remove, k.Detail, k.Charts, k.Filter, k.Sort, k.Logs}
}

// SourceHelp is the footer while the source prompt is open: the way
// out first, so a narrow footer never cuts it.
func (k KeyMap) SourceHelp() []key.Binding {
	return []key.Binding{k.PromptCancel, k.SourceSubmit, k.SourceFraming, k.SourcePace}
}

// ImpairHelp is the footer while the impairment prompt is open: the way
// out first.
func (k KeyMap) ImpairHelp() []key.Binding { return []key.Binding{k.PromptCancel, k.ImpairSubmit} }

// PickerHelp is the footer while the room picker has the keys; naming:
// its name input is open (the way out first).
func (k KeyMap) PickerHelp(naming bool) []key.Binding {
	if naming {
		return []key.Binding{k.PromptCancel, k.PickCreate}
	}
	return []key.Binding{k.PickJoin, k.Up, k.Filter, k.PickNew}
}

// Essentials are the hints the footer always keeps, whatever the width.
func (k KeyMap) Essentials() []key.Binding { return []key.Binding{k.Help, k.Quit} }

// TypingEssentials replace them while a text input has the keys (q and
// ? type) or the help is open (they close it).
func (k KeyMap) TypingEssentials() []key.Binding { return []key.Binding{k.Interrupt} }

// ShortHelp is the footer: the most used keys first; Essentials are
// added at its end.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Publish, k.PushOne, k.Burst, k.Generator, k.RateUp, k.SizeUp, k.Unpublish, k.Detail, k.Charts, k.Logs}
}

// OfflineHelp is the footer while there is no session: the keys that
// still do something (retry only once a connect has failed).
func (k KeyMap) OfflineHelp(canRetry bool) []key.Binding {
	if canRetry {
		return []key.Binding{k.Retry, k.Logs}
	}
	return []key.Binding{k.Logs}
}

// LogHelp is the footer while the log pane has the focus: the way out
// first.
func (k KeyMap) LogHelp(searching bool) []key.Binding {
	l := k.Log
	if searching {
		return []key.Binding{l.SearchNo, l.SearchDone}
	}
	return []key.Binding{l.Back, l.Search, l.Level, l.Sources, l.PageUp, l.Next, l.Follow, l.Wrap, l.Top, l.HalfUp}
}

// FilterHelp is the footer while the filter input has the keys: the way
// out first.
func (k KeyMap) FilterHelp() []key.Binding { return []key.Binding{k.FilterClear, k.FilterKeep} }

// PromptHelp is the footer while the publish prompt is open: the way
// out first (at 80×24 the last hints are cut, and a newcomer who sees no
// esc presses ctrl+c and loses the session).
func (k KeyMap) PromptHelp() []key.Binding {
	return []key.Binding{k.PromptCancel, k.PromptSubmit, k.PromptToggleE2E, k.PromptEncoding}
}

// OverlayHelp is the footer while the full help is open.
func (k KeyMap) OverlayHelp() []key.Binding {
	return []key.Binding{k.HelpUp, k.HelpClose}
}

// Select is ↑/↓ in the full help, as one line.
var selectHelp = key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select"))

// Group is a titled column of the full help.
type Group struct {
	Title string
	Keys  []key.Binding
}

// Groups is the full help, in the order it reads.
func (k KeyMap) Groups() []Group {
	l := k.Log
	return []Group{
		{"Tracks", []key.Binding{k.Publish, k.Cancel, k.Unpublish, k.Remove, selectHelp, k.Sort, k.Filter, k.Subscribe, k.Record}},
		{"Traffic", []key.Binding{k.PushOne, k.Burst, k.Flood, k.BurstMore, k.Generator, k.RateUp, k.SizeUp, k.Source, k.Impair}},
		{"View", []key.Binding{k.Detail, k.Charts, k.ChartWindow, k.Logs, k.Pause, k.Reset, k.Help, k.Quit, k.Retry}},
		{"Publish prompt", []key.Binding{k.PromptSubmit, k.PromptToggleE2E, k.PromptEncoding, k.PromptCancel}},
		{"File prompt (o)", []key.Binding{k.SourceSubmit, k.SourceFraming, k.SourcePace, k.PromptCancel}},
		{"Impairment prompt (i)", []key.Binding{k.ImpairSubmit, k.PromptCancel}},
		{"Replay (dttui replay --ui)", []key.Binding{k.ReplayPause, k.SeekBack, k.SpeedDown}},
		{"Room picker (no --room)", []key.Binding{k.PickJoin, selectHelp, k.Filter, k.PickNew, k.PickCreate}},
		{"Log pane (l)", []key.Binding{l.Up, l.PageUp, l.HalfUp, l.Top, l.Follow, l.Wrap, l.Level, l.OriginsHelp, l.Search, l.Next, l.Back}},
	}
}

// FullHelp is the `?` screen, in columns (help.KeyMap).
func (k KeyMap) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	for _, g := range k.Groups() {
		out = append(out, g.Keys)
	}
	return out
}
