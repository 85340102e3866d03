package common

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// TitledBox draws body in the theme's box, width cells wide, with title
// on the left of the top border and info on its right (left out when it
// does not fit whole; TitleFits tells the caller what does). The focused
// box's border takes the focus colour, so the pane that has the keys is
// seen at a glance.
func TitledBox(ctx Context, width int, title, info, body string, focused bool) string {
	th := ctx.Theme
	edge := th.Edge
	box := th.Box
	if focused {
		edge = th.Focused
		box = box.BorderForeground(th.Focused.GetForeground())
	}
	inner := max(width-2, 0) // between the corners
	// ╭─ title ─────── info ─╮: the corners, a dash each side, the spaces
	// around the texts and at least two dashes between them.
	title = ansi.Truncate(title, max(width-8, 0), "…")
	if room := width - 8 - ansi.StringWidth(title); ansi.StringWidth(info) > room {
		info = "" // the title first; info that does not fit whole is left out
	}
	fill := max(inner-2-ansi.StringWidth(title)-ansi.StringWidth(info)-2, 0)
	var top strings.Builder
	top.WriteString(edge.Render("╭─"))
	if title != "" {
		top.WriteString(" " + title + " ")
	} else {
		fill += 2
	}
	top.WriteString(edge.Render(strings.Repeat("─", max(fill-2, 0))))
	if info != "" {
		top.WriteString(" " + info + " ")
	} else {
		top.WriteString(edge.Render("──"))
	}
	top.WriteString(edge.Render("─╮"))
	rest := box.BorderTop(false).Width(max(width-2, 0)).Render(body)
	return ansi.Truncate(top.String(), width, "") + "\n" + rest
}

// TitleFits says whether a title and info of these widths fit whole in
// the top border of a TitledBox width cells wide.
func TitleFits(width, title, info int) bool { return title+info <= width-8 }
