"""The decode engine for Llama/Qwen2-family models, gpt-fast style: raw token ids in, raw ids out.

:class:`DecodeEngine` reads a transformers model's weights and decodes with a static KV cache, a few batch /
KV-length buckets, SDPA prefill, and a decode step whose layer is ``torch.compile``-d once (all layers share
its shapes) and whose whole step is captured in a CUDA graph per (batch bucket, KV window, sampling mode);
sampling runs on the device. On CPU it runs eagerly (no compile, no graph) so tests can check it. No
tokenizer here: text, stop strings and :class:`~.generation.Generation` records belong to :mod:`.generation`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

SUPPORTED_MODEL_TYPES = ("llama", "qwen2")


def supports_fast_engine(model) -> bool:
    """True when :class:`DecodeEngine` can run ``model`` (Llama/Qwen2 layout, silu MLP, no sliding window)."""
    cfg = getattr(model, "config", None)
    return (getattr(cfg, "model_type", None) in SUPPORTED_MODEL_TYPES and getattr(cfg, "hidden_act", "") == "silu"
            and not getattr(cfg, "use_sliding_window", False) and not getattr(cfg, "mlp_bias", False)
            and hasattr(model, "model") and hasattr(model.model, "layers"))


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def batch_bucket(n: int) -> int:
    """Batch sizes the engine compiles for: powers of two up to 32, then multiples of 32."""
    return 1 << (n - 1).bit_length() if n <= 32 else _round_up(n, 32)


def _rms(x, w, eps: float):
    """RMSNorm as in HF Llama/Qwen2: normalise in float32, cast back, then scale."""
    x32 = x.float()
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


def _layer(x, w, rope, kv, slots, mask, dims: tuple[int, int, int, float]):
    """One decoder layer on ``x`` (B, S, hidden): writes K/V of the S new tokens into ``kv`` (K and V caches) at
    ``slots``, attends over cache slots [0, W) (``mask``: B, 1, S, W, True = may attend); ``rope`` = (cos, sin)."""
    (cos, sin), (k_cache, v_cache), (nh, nkv, hd, eps) = rope, kv, dims
    B, S, _ = x.shape
    q, k, v = F.linear(_rms(x, w["n1"], eps), w["qkv"], w["qkv_b"]).split([nh * hd, nkv * hd, nkv * hd], -1)
    q = _rotate(q.view(B, S, nh, hd).transpose(1, 2), cos, sin)
    k = _rotate(k.view(B, S, nkv, hd).transpose(1, 2), cos, sin)
    k_cache.index_copy_(2, slots, k)
    v_cache.index_copy_(2, slots, v.view(B, S, nkv, hd).transpose(1, 2))
    W = mask.shape[-1]
    a = F.scaled_dot_product_attention(q, k_cache[:, :, :W], v_cache[:, :, :W], attn_mask=mask, enable_gqa=True)
    x = x + F.linear(a.transpose(1, 2).reshape(B, S, nh * hd), w["o"], w["o_b"])
    gate, up = F.linear(_rms(x, w["n2"], eps), w["gu"]).chunk(2, -1)
    return x + F.linear(F.silu(gate) * up, w["d"])


class _Slot:
    """Static device tensors of one (batch bucket, cache length) shape; CUDA graphs read and write them."""

    def __init__(self, engine: DecodeEngine, B: int, T: int, max_new: int):
        dev, L = engine.device, len(engine.layers)
        size = B * engine.nkv * T * engine.hd
        self.k = [engine.kv_k[i][:size].view(B, engine.nkv, T, engine.hd) for i in range(L)]
        self.v = [engine.kv_v[i][:size].view(B, engine.nkv, T, engine.hd) for i in range(L)]
        z = {"device": dev, "dtype": torch.long}
        self.tok, self.pos, self.start = torch.zeros(B, **z), torch.zeros(B, **z), torch.zeros(B, **z)
        self.slot, self.step = torch.zeros(1, **z), torch.zeros(1, **z)
        self.done = torch.zeros(B, device=dev, dtype=torch.bool)
        self.inv_temp, self.top_p = torch.ones(B, 1, device=dev), torch.ones(B, 1, device=dev)
        self.out_tok, self.out_lp = torch.zeros(B, max_new, **z), torch.zeros(B, max_new, device=dev)
        self.graphs: dict[tuple[int, str], torch.cuda.CUDAGraph] = {}


class DecodeEngine:
    """Batched decoder over the weights of an HF Llama/Qwen2 model (see the module docstring).

    ``compile`` / ``cuda_graphs`` default to True on CUDA and False elsewhere. ``kv_block``: granularity of
    cache lengths and of the attention window (a decode step attends over the filled part of the cache,
    rounded up to it). ``check_every``: host checks for stop strings every that many steps.
    ``top_p_candidates``: with top_p < 1 the nucleus is taken among this many most likely tokens.
    """

    def __init__(self, model, *, compile: bool | None = None, cuda_graphs: bool | None = None,
                 kv_block: int = 128, check_every: int = 16, top_p_candidates: int = 1024):
        cfg = model.config
        self.model, self.device, self.dtype = model, model.device, model.dtype
        on_cuda = self.device.type == "cuda"
        self.use_graphs = on_cuda if cuda_graphs is None else cuda_graphs
        self.nh, self.nkv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.nh
        self.eps = float(cfg.rms_norm_eps)
        rot = model.model.rotary_emb
        self.inv_freq = rot.inv_freq.detach().float().to(self.device)
        self.rope_scale = float(getattr(rot, "attention_scaling", 1.0))
        self.kv_block, self.check_every, self.candidates = kv_block, check_every, top_p_candidates
        self.layer_fn = torch.compile(_layer, dynamic=None) if (on_cuda if compile is None else compile) else _layer
        self.kv_k: list[torch.Tensor] = []  # one flat K and V buffer per layer, viewed per slot
        self.kv_v: list[torch.Tensor] = []
        self.slots: dict[tuple[int, int, int], _Slot] = {}
        self.pool = self._fingerprint = None
        self.pad_t = torch.zeros((), device=self.device, dtype=torch.long)
        self.eos_t = torch.zeros(8, device=self.device, dtype=torch.long)  # EOS ids, padded by repetition
        self.sync_weights()

    # ------------------------------------------------------------------ weights
    def sync_weights(self) -> None:
        """Read the model's weights (again, when a parameter changed since the last call).

        Fused q/k/v and gate/up matrices are copied in place, so captured CUDA graphs stay valid; when a
        parameter was replaced (new storage) everything is rebuilt and the graphs are dropped.
        """
        fp = tuple((p.data_ptr(), p._version) for p in self.model.parameters())
        if fp == self._fingerprint:
            return
        ptrs_same = self._fingerprint is not None and [a for a, _ in fp] == [a for a, _ in self._fingerprint]
        m = self.model.model
        with torch.no_grad():
            fresh = [self._fused(layer) for layer in m.layers]
            if ptrs_same:
                for old, new in zip(self.layers, fresh):
                    for key in ("qkv", "qkv_b", "gu"):
                        if old[key] is not None:
                            old[key].copy_(new[key])
            else:
                self.layers, self.slots = fresh, {}
                self.emb, self.norm = m.embed_tokens.weight.detach(), m.norm.weight.detach()
                self.lm_head = self.model.get_output_embeddings().weight.detach()
        self._fingerprint = fp

    @staticmethod
    def _fused(layer) -> dict:
        att, mlp = layer.self_attn, layer.mlp
        biases = [att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]
        qkv_b = None if biases[0] is None else torch.cat([b.detach() for b in biases])
        plain = lambda p: None if p is None else p.detach()
        return {"qkv": torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).detach(), "qkv_b": qkv_b,
                    "o": plain(att.o_proj.weight), "o_b": plain(att.o_proj.bias), "n1": plain(layer.input_layernorm.weight),
                    "n2": plain(layer.post_attention_layernorm.weight),
                    "gu": torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach(), "d": plain(mlp.down_proj.weight)}

    # ------------------------------------------------------------------ buffers
    def _slot(self, B: int, T: int, max_new: int) -> _Slot:
        key = (B, T, max_new)
        if key not in self.slots:
            size = B * self.nkv * T * self.hd
            if not self.kv_k or self.kv_k[0].numel() < size:  # grow the flat caches; old views are invalid
                self.slots = {}
                self.kv_k = self.kv_v = []  # free before allocating
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                new = lambda: [torch.zeros(size, device=self.device, dtype=self.dtype) for _ in self.layers]
                self.kv_k, self.kv_v = new(), new()
            self.slots[key] = _Slot(self, B, T, max_new)
        return self.slots[key]

    def _cos_sin(self, pos):
        freqs = pos[..., None].float() * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)[:, None]  # B, 1, S, hd
        return (emb.cos() * self.rope_scale).to(self.dtype), (emb.sin() * self.rope_scale).to(self.dtype)

    def _layers(self, x, s: _Slot, cos, sin, slots, mask, fn):
        for i, w in enumerate(self.layers):
            x = fn(x, w, (cos, sin), (s.k[i], s.v[i]), slots, mask, (self.nh, self.nkv, self.hd, self.eps))
        return F.linear(_rms(x[:, -1], self.norm, self.eps), self.lm_head).float()

    # ------------------------------------------------------------------ steps
    def _prefill(self, s: _Slot, ids, P: int, mode: str, gen) -> None:
        ar = torch.arange(P, device=self.device)
        pos = (ar[None] - s.start[:, None]).clamp(min=0)
        valid = (ar[None, None, :] >= s.start[:, None, None]) & (ar[None, None, :] <= ar[None, :, None])
        mask = (valid | torch.eye(P, dtype=torch.bool, device=self.device))[:, None]  # pads see themselves
        cos, sin = self._cos_sin(pos)
        logits = self._layers(F.embedding(ids, self.emb), s, cos, sin, ar, mask, _layer)
        self._sample(s, logits, mode, gen)

    def _decode(self, s: _Slot, W: int, mode: str, gen) -> None:
        """One decode step attending over cache slots [0, W); all state advances in place."""
        ar = torch.arange(W, device=self.device)
        mask = ((ar[None] >= s.start[:, None]) & (ar[None] <= s.slot))[:, None, None]
        cos, sin = self._cos_sin(s.pos[:, None])
        logits = self._layers(F.embedding(s.tok[:, None], self.emb), s, cos, sin, s.slot, mask, self.layer_fn)
        self._sample(s, logits, mode, gen)

    def _sample(self, s: _Slot, logits, mode: str, gen) -> None:
        scaled = logits * s.inv_temp
        if mode == "greedy":
            nxt = logits.argmax(-1)
        else:
            probs = scaled.softmax(-1)
            if mode == "top_p":
                probs, idx = probs.topk(min(self.candidates, probs.shape[-1]), -1)
                probs = probs * ((probs.cumsum(-1) - probs) < s.top_p)
            choice = (probs / torch.empty_like(probs).exponential_(generator=gen)).argmax(-1)
            nxt = choice if mode == "sample" else idx.gather(-1, choice[:, None])[:, 0]
        lp = scaled.log_softmax(-1).gather(-1, nxt[:, None])[:, 0]
        nxt = torch.where(s.done, self.pad_t, nxt)
        s.out_tok.index_copy_(1, s.step, nxt[:, None]), s.out_lp.index_copy_(1, s.step, lp[:, None])
        s.done |= (nxt[:, None] == self.eos_t).any(-1)
        s.tok.copy_(nxt), s.step.add_(1), s.pos.add_(1), s.slot.add_(1)

    # ------------------------------------------------------------------ the call
    @torch.no_grad()
    def generate(self, prompts: list[list[int]], *, max_new_tokens: int, temperature: float = 1.0,
                 top_p: float = 1.0, eos_ids: Iterable[int] = (), pad_id: int = 0, seed: int | None = None,
                 stopped: Callable[[list[list[int]], list[int]], list[bool]] | None = None
                 ) -> tuple[list[list[int]], list[list[float]]]:
        """Sample up to ``max_new_tokens`` ids after each prompt; returns ``(ids, logprobs)``, equal-length rows.

        A row is done after an id in ``eos_ids`` (kept) or when the host callback ``stopped(rows, index)``
        (every ``check_every`` steps, on the ids so far of the live rows, ``index`` their prompt numbers) flags
        it; done rows continue with ``pad_id`` and decoding ends once all are done. ``temperature`` 0 is greedy (log-probs then untempered).
        """
        self.sync_weights()
        self._set_specials(set(eos_ids), pad_id)
        n, P = len(prompts), max(len(p) for p in prompts)
        B, T, blk = batch_bucket(n), _round_up(P + max_new_tokens, self.kv_block), self.kv_block
        mode = "greedy" if temperature == 0 else ("top_p" if top_p < 1 else "sample")
        s = self._slot(B, T, max_new_tokens)
        if self.use_graphs:
            self._capture(s, range(_round_up(P + 1, blk), T + 1, blk), mode)
        rows = [list(p) for p in prompts] + [[pad_id]] * (B - n)  # filler rows: one pad token, done at once
        lens = torch.tensor([len(r) for r in rows], device=self.device)
        ids = torch.tensor([[pad_id] * (P - len(r)) + r for r in rows], device=self.device)
        s.start.copy_(P - lens), s.pos.copy_(lens - 1), s.slot.fill_(P - 1), s.step.zero_()
        s.done.copy_(torch.arange(B, device=self.device) >= n)
        s.inv_temp.fill_(1.0 / temperature if temperature > 0 else 1.0), s.top_p.fill_(top_p)
        seeded_graphs = self.use_graphs and seed is not None  # graphs sample from the global CUDA RNG
        with torch.random.fork_rng(devices=[self.device] if seeded_graphs else [], enabled=seeded_graphs):
            gen = None
            if seeded_graphs:
                torch.manual_seed(seed)
            elif not self.use_graphs:
                gen = torch.Generator(self.device)
                gen.manual_seed(seed) if seed is not None else gen.seed()
            steps = self._run(s, ids, P, n, max_new_tokens, mode, gen, stopped)
        return s.out_tok[:n, :steps].tolist(), s.out_lp[:n, :steps].tolist()

    def _run(self, s: _Slot, ids, P, n, max_new, mode, gen, stopped) -> int:
        """Prefill, then decode until every row is done or ``max_new`` tokens; returns the steps taken."""
        self._prefill(s, ids, P, mode, gen)
        finished = [False] * n
        for t in range(1, max_new):
            if t % self.check_every == 0 and self._check(s, t, finished, stopped):
                return t
            W = _round_up(P + t, self.kv_block)
            if self.use_graphs:
                s.graphs[(W, mode)].replay()
            else:
                self._decode(s, W, mode, gen)
        return max_new

    def _check(self, s: _Slot, t: int, finished: list[bool], stopped) -> bool:
        """Host-side check after ``t`` tokens: mark rows done by EOS or ``stopped``; True when all are done."""
        done = s.done[: len(finished)].tolist()
        live = [i for i, f in enumerate(finished) if not f and not done[i]]
        flags = stopped(s.out_tok[live, :t].tolist(), live) if stopped is not None and live else []
        hits = [i for i, flag in zip(live, flags) if flag]
        if hits:
            s.done[torch.tensor(hits, device=self.device)] = True
        finished[:] = [f or d or i in hits for i, (f, d) in enumerate(zip(finished, done))]
        return all(finished)

    def _set_specials(self, eos: set[int], pad: int) -> None:
        ids = sorted(eos)[: self.eos_t.numel()] or [-1]  # -1: no EOS, never matches
        self.eos_t.copy_(torch.tensor((ids * self.eos_t.numel())[: self.eos_t.numel()]))
        self.pad_t.fill_(pad)

    def _capture(self, s: _Slot, windows, mode: str) -> None:
        """Warm up (compiles) and capture one CUDA graph per missing attention window of this slot."""
        missing = [W for W in windows if (W, mode) not in s.graphs]
        if not missing:
            return

        def reset(W):  # any in-range state will do: prefill and the real steps overwrite what this writes
            s.slot.fill_(W - 1), s.step.zero_(), s.pos.zero_(), s.done.zero_()

        self.pool = self.pool or torch.cuda.graph_pool_handle()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for W in missing:
                for _ in range(2):
                    reset(W)
                    self._decode(s, W, mode, None)
        torch.cuda.current_stream().wait_stream(stream)
        for W in missing:
            reset(W)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                self._decode(s, W, mode, None)
            s.graphs[(W, mode)] = graph
