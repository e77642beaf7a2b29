package grpo

import (
	"slices"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// The shared-prompt layout of the log-prob and training passes (shared_prompt, model.ForwardShared):
// a micro-batch's G completions of one prompt go through the layers with their prompt once, not G
// times. Same keys, masks and positions for every completion token as the rows [prompt |
// completion] give it, so the same log-probs and gradients up to rounding; about half the matmul
// work of a GRPO batch of 8 × (256 + 200) tokens.

// canShare reports whether every micro-batch of n rows holds whole groups of G consecutive rows
// with the same prompt part (ids, positions and validity of the first P positions). Batches from
// generate are built so; the check guards the layout against any other (e.g. fewer rows per
// micro-batch than per group, as gradient_accumulation_steps = 8 gives long-context steps).
func (b *genBatch) canShare(n, G int) bool {
	if G < 1 || n%G != 0 || len(b.IDs)%n != 0 {
		return false
	}
	for r := range b.IDs {
		h := r - r%G // the group's first row
		if !slices.Equal(b.IDs[r][:b.P], b.IDs[h][:b.P]) || !slices.Equal(b.Posn[r][:b.P], b.Posn[h][:b.P]) ||
			!slices.Equal(b.Valid[r][:b.P], b.Valid[h][:b.P]) {
			return false
		}
	}
	return true
}

// inputs returns the model inputs of rows [a, a+n): shared, the prompts of its n/G groups (ids,
// positions, valid [n/G, P]) then its completions' ([n, C]); else the rows [prompt | completion]
// (ids, positions, valid [n, P+C]).
func (b *genBatch) inputs(a, n, G int, shared bool) []any {
	if !shared {
		return []any{rows(b.IDs, a, a+n), rows(b.Posn, a, a+n), rows(b.Valid, a, a+n)}
	}
	var pIDs, pPosn, cIDs, cPosn [][]int32
	var pValid, cValid [][]bool
	for r := a; r < a+n; r++ {
		if (r-a)%G == 0 {
			pIDs, pPosn, pValid = append(pIDs, b.IDs[r][:b.P]), append(pPosn, b.Posn[r][:b.P]), append(pValid, b.Valid[r][:b.P])
		}
		cIDs, cPosn, cValid = append(cIDs, b.IDs[r][b.P:]), append(cPosn, b.Posn[r][b.P:]), append(cValid, b.Valid[r][b.P:])
	}
	return []any{pIDs, pPosn, pValid, cIDs, cPosn, cValid}
}

// modelInputs is how many of an executable's inputs are the model's: 6 shared, 3 not (inputs).
func modelInputs(shared bool) int {
	if shared {
		return 6
	}
	return 3
}

// completionHidden runs the forward pass over the model inputs in (see inputs; shared: their
// layout) and returns the hidden states that predict the C completion tokens: positions P−1 …
// P+C−2 of each row, [n, C, D].
func completionHidden(m *model.Model, in []*Node, C int, shared, noAdapters, checkpoint bool) *Node {
	if shared {
		hp, hc := m.ForwardShared(&model.Inputs{IDs: in[3], Positions: in[4], KeyValid: in[5], NoAdapters: noAdapters, Checkpoint: checkpoint},
			&model.SharedPrompt{IDs: in[0], Positions: in[1], KeyValid: in[2]})
		return model.SharedCompletionHidden(hp, hc)
	}
	h := m.Forward(&model.Inputs{IDs: in[0], Positions: in[1], KeyValid: in[2], NoAdapters: noAdapters, Checkpoint: checkpoint})
	L := in[0].Shape().Dimensions[1]
	return SliceAxis(h, 1, AxisRange(L-C-1, L-1))
}
