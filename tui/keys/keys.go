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
	Burst           key.Binding
	BurstMore       key.Binding
	BurstLess       key.Binding
	Generator       key.Binding
	RateUp, RateDn  key.Binding
	SizeUp, SizeDn  key.Binding
	Sort            key.Binding
	Reset           key.Binding
	Pause           key.Binding
	Detail          key.Binding
	Logs            key.Binding
	Help            key.Binding
	Quit            key.Binding
	Interrupt       key.Binding // ctrl+c: quits from anywhere, the prompt included; twice quits at once
	PromptSubmit    key.Binding
	PromptToggleE2E key.Binding
	PromptCancel    key.Binding
}

// Default is the key map dttui ships.
func Default() KeyMap {
	return KeyMap{
		Up:              key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:            key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Publish:         key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "publish")),
		Cancel:          key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel pending")),
		Unpublish:       key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "unpublish")),
		PushOne:         key.NewBinding(key.WithKeys(" ", "enter"), key.WithHelp("space", "push 1")),
		Burst:           key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "burst")),
		BurstMore:       key.NewBinding(key.WithKeys("B"), key.WithHelp("B/N", "burst size ×10/÷10")),
		BurstLess:       key.NewBinding(key.WithKeys("N")),
		Generator:       key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "generator on/off")),
		RateUp:          key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "rate")),
		RateDn:          key.NewBinding(key.WithKeys("-", "_")),
		SizeUp:          key.NewBinding(key.WithKeys("]"), key.WithHelp("[/]", "frame size")),
		SizeDn:          key.NewBinding(key.WithKeys("[")),
		Sort:            key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Reset:           key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reset counters")),
		Pause:           key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "pause display")),
		Detail:          key.NewBinding(key.WithKeys("d", "tab"), key.WithHelp("d", "detail")),
		Logs:            key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "logs")),
		Help:            key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:            key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Interrupt:       key.NewBinding(key.WithKeys("ctrl+c")),
		PromptSubmit:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "publish")),
		PromptToggleE2E: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "E2EE on/off")),
		PromptCancel:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// ShortHelp is the footer.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Publish, k.PushOne, k.Burst, k.Generator, k.RateUp, k.SizeUp, k.Unpublish, k.Detail, k.Logs, k.Help, k.Quit}
}

// OfflineHelp is the footer while there is no session: the keys that
// still do something.
func (k KeyMap) OfflineHelp() []key.Binding {
	return []key.Binding{k.Logs, k.Help, k.Quit}
}

// FullHelp is the `?` screen, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Publish, k.Cancel, k.Unpublish, k.Up, k.Down},
		{k.PushOne, k.Burst, k.BurstMore, k.Generator, k.RateUp, k.SizeUp},
		{k.Sort, k.Reset, k.Pause, k.Detail, k.Logs, k.Help, k.Quit},
	}
}
