//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// Decoder runs sample.Generator's decode steps on the kernels of this package, reading the model's
// weights (bfloat16 or NF4), the LoRA adapters and the KV caches straight from GoMLX's device
// buffers: no second copy of the weights, no merge, and adapters updated by an optimizer step are
// seen at the next Start. One step per token:
//
//	x = E[ids]
//	per layer:  h = rms(x);  q,k,v = h·Wᵀ (+b) (+LoRA);  rope(q,k), cache ← k,v;  a = attn(q, cache)
//	            x += a·W_oᵀ (+LoRA);  h = rms(x);  x += (silu(h·W_gᵀ) ⊙ h·W_uᵀ)·W_dᵀ   (+LoRA each)
//	logits = rms(x)·W_lmᵀ;  token, logp = sample(logits)
//
// Each residual add and the norm after it (the next layer's input norm, or the final norm) are one
// launch (ResidualRMSNorm).
//
// Supported: Llama, Qwen2 and Phi3 (fused qkv_proj and gate_up_proj) in bfloat16, projections in
// bfloat16 or NF4 (with or without double quantization), LoRA adapters in float32. Other models get an error from NewDecoder, and
// the Generator then stays on the GoMLX path.
type Decoder struct {
	stream                            cu.Stream  // this decoder's launches (captured once into graph)
	graph                             *stepGraph // one decode step; nil until the first Step, or always with GOMLXGRPO_CUDA_GRAPH=0
	m                                 *model.Model
	params                            sample.Params
	B, S                              int
	caches                            []cu.DevicePtr
	buf                               map[string]cu.DevicePtr // scratch, allocated by Start
	bufBytes                          map[string]int64        // buf's sizes, for memFree
	layers                            []layerPtrs
	embed, finalNorm, lmHead, invFreq cu.DevicePtr
	maxR                              int
	// Shared prompts (SharePrompts, for the next Start): each row's source row, the prompt width;
	// shared is what the attention launches get (the zero value: each row reads its own cache).
	share  []int32
	shareP int
	shared SharedPrompts
	io     *stepIO // the step's copies through page-locked memory; nil with GOMLXGRPO_STEP_IO=sync
}

// SharePrompts (sample.PromptSharer) makes the next generation's attention read each row's cache
// positions below prefix from row src[b] (the first row with its prompt), one copy per prompt
// instead of one per row (AttentionDecode). GOMLXGRPO_ATTN_SHARE=0 turns it off (read at Start).
func (d *Decoder) SharePrompts(src []int32, prefix int) { d.share, d.shareP = src, prefix }

type linearPtrs struct {
	w, packed, bias cu.DevicePtr // w: bfloat16 weight, or packed codes + scales for NF4
	scales          NF4Scales
	a, b            cu.DevicePtr // LoRA, float32
	r               int
	scale           float32
	in, out         int
}

type layerPtrs struct {
	inNorm, postNorm         cu.DevicePtr
	q, k, v, o, gate, up, dn linearPtrs
	qkv, gateUp              linearPtrs // Phi3 (fused: q, k, v and gate, up unused)
	fused                    bool
}

// MaxDecoderRows is the largest batch the Decoder takes when the tensor-core kernels are off
// (GOMLXGRPO_MMA=0); larger ones then decode on the GoMLX path, whose NF4 matmuls XLA runs as
// tensor-core GEMMs. Measured on an H200 (bench/RESULTS.md): at batch 64 the CUDA-core GEMVs ran 4×
// slower than the GoMLX path (they re-read the activations for every output row), the tensor-core
// kernels 1.5× faster. With the tensor-core kernels (the default) there is no limit.
const MaxDecoderRows = 8

// NewDecoder checks that m is supported; weights are looked up at every Start.
func NewDecoder(m *model.Model) (sample.StepDecoder, error) {
	if !backend.IsXLA(m.Backend) {
		return nil, fmt.Errorf("cuda: the model is not on an XLA CUDA backend")
	}
	if m.DType != dtypes.BFloat16 {
		return nil, fmt.Errorf("cuda: the decoder supports bfloat16 models, this one is %s", m.DType)
	}
	if err := Init(); err != nil {
		return nil, err
	}
	d := &Decoder{m: m}
	if err := d.collect(); err != nil { // an unsupported weight layout keeps the GoMLX path
		return nil, err
	}
	return d, nil
}

func (d *Decoder) ptr(v *gmodel.Variable) (cu.DevicePtr, error) {
	if v == nil {
		return 0, nil
	}
	t, err := v.Value()
	if err != nil {
		return 0, err
	}
	return DevicePtr(t, d.m.Backend)
}

func (d *Decoder) linear(l *model.Linear) (lp linearPtrs, err error) {
	lp.in, lp.out = l.In, l.Out
	if l.NF4Packed != nil {
		if lp.packed, err = d.ptr(l.NF4Packed); err != nil {
			return
		}
		if l.NF4Absmax != nil {
			if lp.scales.Absmax, err = d.ptr(l.NF4Absmax); err != nil {
				return
			}
		} else { // double quantization
			for _, x := range []struct {
				dst *cu.DevicePtr
				v   *gmodel.Variable
			}{{&lp.scales.Q, l.NF4AbsmaxQ}, {&lp.scales.Code, l.NF4Code}, {&lp.scales.Absmax2, l.NF4Absmax2}} {
				if x.v == nil {
					return lp, fmt.Errorf("cuda: %s: NF4 weight without block scales", l.Name)
				}
				if *x.dst, err = d.ptr(x.v); err != nil {
					return
				}
			}
			off, err := l.NF4Offset.Value()
			if err != nil {
				return lp, err
			}
			lp.scales.Offset = tensors.MustCopyFlatData[float32](off)[0]
		}
	} else if l.Weight != nil {
		if l.Weight.Shape().DType != dtypes.BFloat16 {
			return lp, fmt.Errorf("cuda: %s: weight is %s, the decoder reads bfloat16", l.Name, l.Weight.Shape().DType)
		}
		if lp.w, err = d.ptr(l.Weight); err != nil {
			return
		}
	} else {
		return lp, fmt.Errorf("cuda: %s: weight source not supported by the decoder", l.Name)
	}
	if l.Bias != nil {
		if l.Bias.Shape().DType != dtypes.BFloat16 {
			return lp, fmt.Errorf("cuda: %s: bias is %s, the decoder reads bfloat16", l.Name, l.Bias.Shape().DType)
		}
		if lp.bias, err = d.ptr(l.Bias); err != nil {
			return
		}
	}
	if l.LoRAA != nil {
		if l.LoRAA.Shape().DType != dtypes.Float32 || l.LoRAB.Shape().DType != dtypes.Float32 {
			return lp, fmt.Errorf("cuda: %s: LoRA weights must be float32", l.Name)
		}
		lp.r, lp.scale = l.LoRAA.Shape().Dimensions[0], float32(l.LoRAScale)
		if lp.a, err = d.ptr(l.LoRAA); err != nil {
			return
		}
		if lp.b, err = d.ptr(l.LoRAB); err != nil {
			return
		}
	}
	return lp, nil
}

// Start looks up every buffer (adapters may have been replaced by an optimizer step), allocates the
// scratch for B rows and waits for XLA's work on the caches.
func (d *Decoder) Start(caches []*tensors.Tensor, k1, k2 []uint32, p sample.Params) error {
	m, c := d.m, d.m.Config
	d.params, d.B = p, len(k1)
	d.S = caches[0].Shape().Dimensions[2]
	if maxRows := MaxDecoderRows; d.B > maxRows && !tensorCores && os.Getenv("GOMLXGRPO_DECODER") != "cuda" {
		return fmt.Errorf("cuda: %d rows, more than the decoder's %d (GOMLXGRPO_DECODER=cuda forces it): %w", d.B, maxRows, sample.ErrDecoderUnsupported)
	}
	var err error
	d.caches = make([]cu.DevicePtr, len(caches))
	for i, t := range caches {
		if d.caches[i], err = DevicePtr(t, m.Backend); err != nil {
			return err
		}
	}
	if err := d.collect(); err != nil {
		return err
	}
	B, D, F, V := d.B, c.HiddenSize, c.IntermediateSize, c.VocabSize
	NH, KH := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	widest := max(D, F, NH)
	sizes := map[string]int{
		"x": 2 * B * D, "x2": 2 * B * D, "h": 2 * B * widest, "y": 4 * B * widest, "y2": 4 * B * D, "q": 4 * B * NH, "k": 4 * B * KH, "v": 4 * B * KH,
		"qbf": 2 * B * NH, "attn": 2 * B * NH, "g": 4 * B * F, "u": 4 * B * F, "act": 2 * B * F,
		"qkv": 4 * B * (NH + 2*KH), "gu": 8 * B * F, "lora": 3 * d.loraStride(), "logits": 4 * B * V, "tokens": 4 * B, "logps": 4 * B, "ids": 4 * B,
		"pos": 4 * B, "valid": B * d.S, "widx": 4, "step": 4, "k1": 4 * B, "k2": 4 * B, "invFreq": 2 * c.HeadDim,
	}
	share := len(d.share) == B && d.shareP > 0 && d.shareP <= d.S && os.Getenv("GOMLXGRPO_ATTN_SHARE") != "0"
	if share {
		sizes["src"] = 4 * B
	}
	d.buf, d.bufBytes = map[string]cu.DevicePtr{}, map[string]int64{}
	err = onContext(func() error {
		if err := cu.Synchronize(); err != nil { // XLA's prefill and first token wrote the caches
			return err
		}
		var err error
		if d.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
			return err
		}
		stream = d.stream
		if err := d.reserve(); err != nil {
			return fmt.Errorf("cuda: split-K scratch: %w", err)
		}
		for name, n := range sizes {
			ptr, err := memAlloc(int64(n))
			if err != nil {
				return fmt.Errorf("cuda: allocating %d bytes of decode scratch (%s): %w", n, name, err)
			}
			d.buf[name], d.bufBytes[name] = ptr, int64(n)
		}
		if pinnedStepIO() {
			if d.io, err = newStepIO(B, d.S); err != nil {
				return err
			}
		}
		inv := c.InvFreq()
		if err := cu.MemcpyHtoD(d.buf["invFreq"], unsafe.Pointer(&inv[0]), int64(4*len(inv))); err != nil {
			return err
		}
		if err := cu.MemcpyHtoD(d.buf["k1"], unsafe.Pointer(&k1[0]), int64(4*B)); err != nil {
			return err
		}
		d.shared = SharedPrompts{}
		if share {
			if err := cu.MemcpyHtoD(d.buf["src"], unsafe.Pointer(&d.share[0]), int64(4*B)); err != nil {
				return err
			}
			d.shared = SharedPrompts{Src: d.buf["src"], Prefix: d.shareP, Group: sample.PromptGroup(d.share)}
		}
		return cu.MemcpyHtoD(d.buf["k2"], unsafe.Pointer(&k2[0]), int64(4*B))
	})
	d.share, d.shareP = nil, 0 // one generation's
	if err != nil {
		d.Close()
	}
	return err
}

// attnInputs are the projections that read the layer's input norm: q, k and v, or Phi-3's qkv.
func (l *layerPtrs) attnInputs() []*linearPtrs {
	if l.fused {
		return []*linearPtrs{&l.qkv}
	}
	return []*linearPtrs{&l.q, &l.k, &l.v}
}

// mlpInputs are the projections that read the post-attention norm: gate and up, or Phi-3's gate_up.
func (l *layerPtrs) mlpInputs() []*linearPtrs {
	if l.fused {
		return []*linearPtrs{&l.gateUp}
	}
	return []*linearPtrs{&l.gate, &l.up}
}

// collect looks up the device address of every weight, norm and adapter the decode step reads.
func (d *Decoder) collect() error {
	m := d.m
	var err error
	d.layers = make([]layerPtrs, len(m.Layers))
	d.maxR = 0
	for i, l := range m.Layers {
		lp := &d.layers[i]
		if lp.inNorm, err = d.ptr(l.InputNorm); err != nil {
			return err
		}
		if lp.postNorm, err = d.ptr(l.PostAttnNorm); err != nil {
			return err
		}
		type pair struct {
			dst *linearPtrs
			src *model.Linear
		}
		pairs := []pair{{&lp.q, l.Q}, {&lp.k, l.K}, {&lp.v, l.V}, {&lp.o, l.O}, {&lp.gate, l.Gate}, {&lp.up, l.Up}, {&lp.dn, l.Down}}
		if lp.fused = l.QKV != nil; lp.fused {
			if l.GateUp == nil {
				return fmt.Errorf("cuda: layer %d has a fused qkv_proj but separate gate and up projections", i)
			}
			pairs = []pair{{&lp.qkv, l.QKV}, {&lp.o, l.O}, {&lp.gateUp, l.GateUp}, {&lp.dn, l.Down}}
		}
		for _, pair := range pairs {
			if *pair.dst, err = d.linear(pair.src); err != nil {
				return err
			}
			d.maxR = max(d.maxR, pair.dst.r)
		}
	}
	if d.embed, err = d.ptr(m.Embed); err != nil {
		return err
	}
	if d.finalNorm, err = d.ptr(m.FinalNorm); err != nil {
		return err
	}
	if m.LMHead.Weight == nil || m.LMHead.Weight.Shape().DType != dtypes.BFloat16 {
		return fmt.Errorf("cuda: the decoder reads a bfloat16 lm_head")
	}
	if d.lmHead, err = d.ptr(m.LMHead.Weight); err != nil {
		return err
	}
	return nil
}

// gemv applies one projection: y [B, out] float32 = h·Wᵀ (+ bias) (+ LoRA).
// reserve sizes the tensor-core matmuls' split-K scratch for every matmul of a step, before the
// step is captured into a graph.
func (d *Decoder) reserve() error {
	c := d.m.Config
	if err := reserveMatmul(d.B, c.HiddenSize, c.VocabSize, false); err != nil { // LM head
		return err
	}
	if err := reserveAttention(d.B, c.NumHeads, c.HeadDim, d.S); err != nil {
		return err
	}
	if err := reserveSample(d.B); err != nil {
		return err
	}
	for i := range d.layers {
		l := &d.layers[i]
		if ad, ok := d.fusedMLP(l); ok {
			r, nh, ro := 0, 0, 0
			if ad != nil {
				r = ad.R
			}
			if o := d.fusedO(l); o != nil {
				nh, ro = o.In, o.R
			}
			if err := reserveDecodeMLP(c.HiddenSize, c.IntermediateSize, nh, 0, r, ro); err != nil {
				return err
			}
		}
		for _, lin := range []*linearPtrs{&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.dn, &l.qkv, &l.gateUp} {
			if lin.out > 0 {
				if err := reserveMatmul(d.B, lin.in, lin.out, lin.packed != 0); err != nil {
					return err
				}
			}
		}
		for _, group := range [][]*linearPtrs{{&l.q, &l.k, &l.v}, {&l.gate, &l.up}} { // gemvGroup's grouped launches
			if !d.grouped(group) {
				continue
			}
			outs := make([]int, len(group))
			for i, lin := range group {
				outs[i] = lin.out
			}
			if err := reserveGroup(d.B, group[0].in, outs); err != nil {
				return err
			}
		}
	}
	return nil
}

// grouped reports whether gemvGroup runs the NF4 matmuls of ls in one launch (NF4GEMVGroup): more
// than one projection, all NF4 on the same inputs, a shape groupable takes.
func (d *Decoder) grouped(ls []*linearPtrs) bool {
	if len(ls) < 2 || !groupable(d.B, ls[0].in) {
		return false
	}
	for _, l := range ls {
		if l.packed == 0 || l.in != ls[0].in {
			return false
		}
	}
	return true
}

// decodeMLPMode is GOMLXGRPO_DECODE_MLP (read when a step is recorded): "mlp" runs each layer's MLP
// half (the post-attention norm, gate/up, SwiGLU, down) as one DecodeMLP launch, "fused" also the
// norm after it, "fused+o" also the o projection before it; anything else keeps the decoder's
// launches (the default until the persistent kernel wins on a card, bench/RESULTS.md).
func decodeMLPMode() string { return os.Getenv("GOMLXGRPO_DECODE_MLP") }

// fusedMLP reports whether the layer's MLP half runs as one DecodeMLP launch, with its adapters
// (nil: none): with decodeMLPMode "mlp" or "fused", at most 8 rows, separate NF4 gate, up and
// down without bias (not Phi-3's fused gate_up_proj), and adapters on all three of one rank or on
// none.
func (d *Decoder) fusedMLP(l *layerPtrs) (*MLPAdapters, bool) {
	c := d.m.Config
	if mode := decodeMLPMode(); mode != "mlp" && mode != "fused" && mode != "fused+o" || l.fused || d.B > 8 || c.HiddenSize%64 != 0 || c.IntermediateSize%64 != 0 {
		return nil, false
	}
	ls := []*linearPtrs{&l.gate, &l.up, &l.dn}
	for _, lin := range ls {
		if lin.packed == 0 || lin.bias != 0 || lin.r != l.gate.r {
			return nil, false
		}
	}
	if l.gate.r == 0 {
		return nil, true
	}
	ad := func(lin *linearPtrs) Adapter { return Adapter{A: lin.a, B: lin.b, Scale: lin.scale} }
	return &MLPAdapters{Gate: ad(&l.gate), Up: ad(&l.up), Down: ad(&l.dn), R: l.gate.r}, true
}

// fusedO is the o projection for DecodeMLP's phase O (nil: the decoder launches it): with
// decodeMLPMode "fused+o" on a layer whose MLP fusedMLP takes, an NF4 o without bias of inputs a
// multiple of 64, with or without an adapter. Its output goes to "y", where the MLP reads it.
func (d *Decoder) fusedO(l *layerPtrs) *OProj {
	if _, ok := d.fusedMLP(l); !ok || decodeMLPMode() != "fused+o" {
		return nil
	}
	o := &l.o
	if o.packed == 0 || o.bias != 0 || o.in%64 != 0 {
		return nil
	}
	op := &OProj{Attn: d.buf["attn"], W: o.nf4(), In: o.in}
	if o.r > 0 {
		op.LoRA, op.R = &Adapter{A: o.a, B: o.b, Scale: o.scale}, o.r
	}
	return op
}

// nf4 is the projection's NF4 weights for DecodeMLP.
func (l *linearPtrs) nf4() NF4Weights { return NF4Weights{Packed: l.packed, Scales: l.scales} }

func (d *Decoder) gemv(l *linearPtrs, h, y cu.DevicePtr) error {
	return d.gemvGroup([]*linearPtrs{l}, h, []cu.DevicePtr{y}, false)
}

// loraSlice is adapter i's slice of the "lora" scratch: its down-projection u [B, r].
func (d *Decoder) loraSlice(i int) cu.DevicePtr {
	return d.buf["lora"] + cu.DevicePtr(d.loraStride()*i)
}

// fuseDown reports whether the kernel that produces the input of the projections ls (a norm:
// ResidualRMSNormLoRA; the activation: SwiGLULoRA) computes their LoRA down-projections too: 1 to
// 3 projections, all with adapters of one rank on inputs of size in. GOMLXGRPO_LORA_FUSED=0 turns
// it off (read when a step is recorded).
func (d *Decoder) fuseDown(ls []*linearPtrs, in int) bool {
	if len(ls) < 1 || len(ls) > 3 || os.Getenv("GOMLXGRPO_LORA_FUSED") == "0" {
		return false
	}
	for _, l := range ls {
		if l.r == 0 || l.r != ls[0].r || l.in != in {
			return false
		}
	}
	return true
}

// norm applies the norm that feeds the projections ls (a layer's q/k/v or gate/up; none after the
// last layer) into the "h" buffer: rms(x + y)·w with the residual added to x (y = 0: rms(x)·w).
// When fuseDown(ls), the projections' LoRA down-projections go in the same launch and the sum x + y
// goes to the other of the two x buffers (*x then names it); it reports whether they did, for
// gemvGroup's pre.
func (d *Decoder) norm(x *cu.DevicePtr, y, w cu.DevicePtr, ls []*linearPtrs) (bool, error) {
	c, b := d.m.Config, d.buf
	eps := float32(c.RMSNormEps)
	if !d.fuseDown(ls, c.HiddenSize) {
		if y == 0 {
			return false, RMSNorm(*x, w, b["h"], d.B, c.HiddenSize, eps)
		}
		return false, ResidualRMSNorm(*x, y, w, b["h"], d.B, c.HiddenSize, eps)
	}
	as, us := make([]cu.DevicePtr, len(ls)), make([]cu.DevicePtr, len(ls))
	for i, l := range ls {
		as[i], us[i] = l.a, d.loraSlice(i)
	}
	xo := b["x"]
	if *x == xo {
		xo = b["x2"]
	}
	if err := ResidualRMSNormLoRA(*x, y, w, xo, b["h"], d.B, c.HiddenSize, eps, as, us, ls[0].r); err != nil {
		return false, err
	}
	if y != 0 {
		*x = xo
	}
	return true, nil
}

// loraStride is the bytes of one adapter's slice of the "lora" scratch ([B, maxR] float32), rounded
// so that every slice starts 16-byte aligned (lora_up reads u 4 floats at a time when r % 4 == 0).
func (d *Decoder) loraStride() int { return 4 * d.B * ((max(d.maxR, 1) + 3) / 4 * 4) }

// gemvGroup runs the projections ls (at most 3) that read the same h into ys; when they all carry
// adapters of one rank, their LoRA down-projections go in one launch (LoRADownN) into separate
// slices of the "lora" scratch, and with groupedMMA their NF4 matmuls go in one launch too
// (NF4GEMVGroup).
//
// pre: the norm that produced h has already put the adapters' down-projections in the slices
// (Decoder.norm).
func (d *Decoder) gemvGroup(ls []*linearPtrs, h cu.DevicePtr, ys []cu.DevicePtr, pre bool) error {
	loras := make([]*LoRA, len(ls))
	r, in := ls[0].r, ls[0].in
	joint := r > 0
	for _, l := range ls[1:] {
		joint = joint && l.r == r && l.in == in
	}
	if joint && !pre {
		as, us := make([]cu.DevicePtr, len(ls)), make([]cu.DevicePtr, len(ls))
		for i, l := range ls {
			as[i], us[i] = l.a, d.loraSlice(i)
		}
		if err := LoRADownN(h, as, us, d.B, in, r); err != nil {
			return err
		}
	}
	for i, l := range ls {
		if l.r > 0 {
			if !joint && !pre {
				if err := LoRADown(h, l.a, d.loraSlice(i), d.B, l.in, l.r); err != nil {
					return err
				}
			}
			loras[i] = &LoRA{U: d.loraSlice(i), B: l.b, R: l.r, Scale: l.scale}
		}
	}
	if d.grouped(ls) { // one launch for the group's NF4 matmuls (nf4_mma_n8g)
		ms := make([]NF4Matrix, len(ls))
		for i, l := range ls {
			ms[i] = NF4Matrix{Packed: l.packed, Scales: l.scales, Y: ys[i], Out: l.out, Bias: l.bias, LoRA: loras[i]}
		}
		return NF4GEMVGroup(ms, h, d.B, in)
	}
	for i, l := range ls {
		var err error
		if l.packed != 0 {
			err = NF4GEMV(l.packed, l.scales, h, ys[i], d.B, l.in, l.out, l.bias, loras[i])
		} else {
			err = GEMVBF16(l.w, h, ys[i], d.B, l.in, l.out, l.bias, loras[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Step runs one decode step (see Decoder) and returns the tokens and log-probs.
func (d *Decoder) Step(ids, pos []int32, valid [][]bool, writeIdx, step int) ([]int32, []float32, error) {
	B, b := d.B, d.buf
	var mask []byte // filled in place in the pinned block when there is one
	if d.io != nil {
		mask = d.io.maskBytes()
		clear(mask)
	} else {
		mask = make([]byte, B*d.S)
	}
	for r := range B {
		for s, ok := range valid[r] {
			if ok {
				mask[r*d.S+s] = 1
			}
		}
	}
	var err error
	if d.graph == nil && os.Getenv("GOMLXGRPO_CUDA_GRAPH") != "0" && !profile.on {
		if d.graph, err = capture(d.stream, d.record); err != nil { // records the launches, runs none
			return nil, nil, err
		}
	}
	launch := d.record
	if d.graph != nil {
		launch = func() error { return d.graph.launch(d.stream) }
	}
	if d.io != nil { // asynchronous copies, one wait (stepio.go); GOMLXGRPO_STEP_IO=sync: the copies below
		toks, lps, err := d.io.run(d.stream, b, ids, pos, writeIdx, step, launch)
		if err == nil {
			err = collectProfile()
		}
		return toks, lps, err
	}
	upload := func() error {
		return onContext(func() error {
			if err := cu.MemcpyHtoD(b["ids"], unsafe.Pointer(&ids[0]), int64(4*B)); err != nil {
				return err
			}
			if err := cu.MemcpyHtoD(b["pos"], unsafe.Pointer(&pos[0]), int64(4*B)); err != nil {
				return err
			}
			if err := cu.MemcpyHtoD(b["valid"], unsafe.Pointer(&mask[0]), int64(len(mask))); err != nil {
				return err
			}
			scalars := [2]int32{int32(writeIdx), int32(step)}
			if err := cu.MemcpyHtoD(b["widx"], unsafe.Pointer(&scalars[0]), 4); err != nil {
				return err
			}
			return cu.MemcpyHtoD(b["step"], unsafe.Pointer(&scalars[1]), 4)
		})
	}
	if err := upload(); err != nil {
		return nil, nil, fmt.Errorf("cuda decode step: %w", err)
	}
	err = launch()
	if err == nil {
		err = syncStream(d.stream)
	}
	if err == nil {
		err = collectProfile()
	}
	if err != nil {
		return nil, nil, err
	}
	toks, lps := make([]int32, B), make([]float32, B)
	err = onContext(func() error {
		if err := cu.MemcpyDtoH(unsafe.Pointer(&toks[0]), b["tokens"], int64(4*B)); err != nil {
			return err
		}
		return cu.MemcpyDtoH(unsafe.Pointer(&lps[0]), b["logps"], int64(4*B))
	})
	return toks, lps, err
}

// record launches one decode step on d.stream; everything that changes between steps (ids,
// positions, mask, cache index, token index) is read from device buffers, so a captured graph of
// it replays every step.
func (d *Decoder) record() error {
	c, B, b := d.m.Config, d.B, d.buf
	D, F, H := c.HiddenSize, c.IntermediateSize, c.HeadDim
	NH, KH := c.NumHeads*H, c.NumKVHeads*H
	var err error
	run := func(e error) { // keeps the first launch error
		if err == nil && e != nil {
			err = fmt.Errorf("cuda decode step: %w", e)
		}
	}
	x := b["x"] // the residual stream: b["x"] or b["x2"] (Decoder.norm alternates them)
	run(EmbedRows(b["ids"], d.embed, x, B, D))
	pre, e := d.norm(&x, 0, d.layers[0].inNorm, d.layers[0].attnInputs())
	run(e)
	for i, l := range d.layers {
		kc, vc := d.caches[2*i], d.caches[2*i+1]
		// h = rms(x) of this layer's input norm: the previous residual add computed it.
		if l.fused { // y = [q | k | v] per row
			qkv, w := b["qkv"], NH+2*KH
			run(d.gemvGroup([]*linearPtrs{&l.qkv}, b["h"], []cu.DevicePtr{qkv}, pre))
			run(RopeCache(qkv, qkv+cu.DevicePtr(4*NH), qkv+cu.DevicePtr(4*(NH+KH)), b["pos"], b["invFreq"], b["qbf"], kc, vc,
				B, c.NumHeads, c.NumKVHeads, H, d.S, b["widx"], w, w))
		} else {
			run(d.gemvGroup([]*linearPtrs{&l.q, &l.k, &l.v}, b["h"], []cu.DevicePtr{b["q"], b["k"], b["v"]}, pre))
			run(RopeCache(b["q"], b["k"], b["v"], b["pos"], b["invFreq"], b["qbf"], kc, vc, B, c.NumHeads, c.NumKVHeads, H, d.S, b["widx"], 0, 0))
		}
		run(AttentionDecode(b["qbf"], kc, vc, b["valid"], b["attn"], B, c.NumHeads, c.NumKVHeads, H, d.S, b["widx"], d.shared))
		next, inputs := d.finalNorm, []*linearPtrs(nil) // the norm that follows this residual add: the next layer's input norm, or the final one
		if i+1 < len(d.layers) {
			next, inputs = d.layers[i+1].inNorm, d.layers[i+1].attnInputs()
		}
		ad, fused := d.fusedMLP(&l)
		op := d.fusedO(&l)
		if op == nil {
			run(d.gemv(&l.o, b["attn"], b["y"]))
		}
		if !fused {
			run(d.mlp(&x, &l))
			pre, e = d.norm(&x, b["y"], next, inputs)
			run(e)
			continue
		}
		// One launch (DecodeMLP): x + y to the other x buffer, as Decoder.norm's, and with
		// GOMLXGRPO_DECODE_MLP=fused the next norm too, its sum back to this one.
		xo := b["x"]
		if x == xo {
			xo = b["x2"]
		}
		var nn *NextNorm
		if mode := decodeMLPMode(); mode == "fused" || mode == "fused+o" {
			nn = &NextNorm{W: next, XO: x, H: b["h"]}
			if pre = d.fuseDown(inputs, D); pre {
				for j, in := range inputs {
					nn.A, nn.U = append(nn.A, in.a), append(nn.U, d.loraSlice(j))
				}
				nn.R = inputs[0].r
			}
		}
		run(DecodeMLP(x, b["y"], l.postNorm, float32(c.RMSNormEps), l.gate.nf4(), l.up.nf4(), l.dn.nf4(),
			MLPBuffers{XO: xo, G: b["g"], U: b["u"], Y: b["y2"]}, B, D, F, 0, MLPOptions{LoRA: ad, Next: nn, O: op}))
		if nn == nil {
			x = xo
			pre, e = d.norm(&x, b["y2"], next, inputs)
			run(e)
		}
	}
	run(GEMVBF16(d.lmHead, b["h"], b["logits"], B, D, c.VocabSize, 0, nil))
	run(Sample(b["logits"], b["k1"], b["k2"], b["tokens"], b["logps"], B, c.VocabSize, b["step"], d.params))
	return err
}

// mlp launches a layer's MLP half as four launches (the post-attention norm, the gate/up matmuls,
// SwiGLU, the down matmul into "y"), reading the o projection's output in "y"; *x as Decoder.norm.
func (d *Decoder) mlp(x *cu.DevicePtr, l *layerPtrs) error {
	c, B, b := d.m.Config, d.B, d.buf
	F := c.IntermediateSize
	pre, err := d.norm(x, b["y"], l.postNorm, l.mlpInputs())
	if err != nil {
		return err
	}
	g, u, stride := b["g"], b["u"], 0
	if l.fused { // y = [gate | up] per row (Phi3MLP chunks gate_up_proj in this order)
		g, u, stride = b["gu"], b["gu"]+cu.DevicePtr(4*F), 2*F
		err = d.gemvGroup([]*linearPtrs{&l.gateUp}, b["h"], []cu.DevicePtr{g}, pre)
	} else {
		err = d.gemvGroup([]*linearPtrs{&l.gate, &l.up}, b["h"], []cu.DevicePtr{g, u}, pre)
	}
	if err != nil {
		return err
	}
	if pre = d.fuseDown([]*linearPtrs{&l.dn}, F); pre { // the down projection's LoRA down-projection with the activation
		err = SwiGLULoRA(g, u, b["act"], B, F, stride, l.dn.a, d.loraSlice(0), l.dn.r)
	} else {
		err = SwiGLU(g, u, b["act"], B, F, stride)
	}
	if err != nil {
		return err
	}
	return d.gemvGroup([]*linearPtrs{&l.dn}, b["act"], []cu.DevicePtr{b["y"]}, pre)
}

// Close frees the graph and the scratch buffers (the caches and weights belong to GoMLX). With
// GOMLXGRPO_CUDA_PROFILE=1 it prints the generation's time per kernel to stderr.
func (d *Decoder) Close() {
	if r := ProfileReport(); r != "" {
		fmt.Fprint(os.Stderr, r)
	}
	d.graph.destroy()
	d.graph = nil
	stream = cu.Stream{}
	_ = onContext(func() error {
		_ = cu.Synchronize()
		for name, ptr := range d.buf {
			_ = memFree(ptr, d.bufBytes[name])
		}
		d.io.free()
		d.io = nil
		if d.stream != (cu.Stream{}) {
			_ = d.stream.Destroy()
			d.stream = cu.Stream{}
		}
		return nil
	})
	d.buf = nil
}
