"""alignDRAW's networks: the bidirectional language model, the alignment, and the DRAW core."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_draw.attention import Window, read, write


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[b]`` positions along dim 1; padding stays at the end."""
    length = x.shape[1]
    pos = torch.arange(length, device=x.device).unsqueeze(0)
    n = lengths.unsqueeze(1)
    idx = torch.where(pos < n, n - 1 - pos, pos)
    view = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, 1, view)


class WordLSTM(nn.Module):
    """One direction of the language model. As in the authors' code there is no separate word
    embedding: a word's one-hot vector times the input-to-gates matrix is a row lookup
    (``gates_in``, 4 * hidden per word; it also carries the gates' bias), then an LSTM."""

    def __init__(self, vocab_size: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates_in = nn.Embedding(vocab_size, 4 * hidden)
        self.gates_h = nn.Linear(hidden, 4 * hidden, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, length = tokens.shape
        pre = self.gates_in(tokens)
        h = pre.new_zeros(b, self.hidden)
        c = pre.new_zeros(b, self.hidden)
        out = []
        for j in range(length):
            i, f, o, g = (pre[:, j] + self.gates_h(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, 1)


class LanguageModel(nn.Module):
    """h_lang_j = [forward_j; backward_j] (2 * hidden). The backward LSTM reads each caption's
    own words right to left (the authors' code flips the batch instead: a bug, not copied)."""

    def __init__(self, vocab_size: int, hidden: int):
        super().__init__()
        self.forward_lstm = WordLSTM(vocab_size, hidden)
        self.backward_lstm = WordLSTM(vocab_size, hidden)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1)
        fwd = self.forward_lstm(tokens)
        bwd = reverse_padded(self.backward_lstm(reverse_padded(tokens, lengths)), lengths)
        return torch.cat([fwd, bwd], 2)

    @staticmethod
    def summary(h_lang: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """noAlignDRAW's fixed caption vector: the forward state at the last word and the
        backward state at the first (each direction's final state)."""
        half = h_lang.shape[2] // 2
        last = (mask.sum(1) - 1).clamp_min(0)
        fwd = h_lang[torch.arange(len(h_lang), device=h_lang.device), last, :half]
        return torch.cat([fwd, h_lang[:, 0, half:]], 1)


class Alignment(nn.Module):
    """e_j = v^T tanh(U h_lang_j + W h_dec + b); alpha = softmax over the caption's real words
    (padding gets exactly 0); s = sum_j alpha_j h_lang_j."""

    def __init__(self, lang_dim: int, dec_dim: int, align_dim: int):
        super().__init__()
        self.u = nn.Linear(lang_dim, align_dim, bias=False)
        self.w = nn.Linear(dec_dim, align_dim)
        self.v = nn.Linear(align_dim, 1, bias=False)

    def project(self, h_lang: torch.Tensor) -> torch.Tensor:
        return self.u(h_lang)

    def forward(self, h_lang: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor,
                h_dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.v(torch.tanh(projected + self.w(h_dec).unsqueeze(1))).squeeze(2).float()
        e = e.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(e, 1)
        s = torch.bmm(alpha.unsqueeze(1).to(h_lang.dtype), h_lang).squeeze(1)
        return s, alpha


def gaussian_kl(mu, logvar, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(mu_p, exp(logvar_p))) summed over the last dim."""
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p) ** 2) / logvar_p.exp() - 1).sum(-1)


class AlignDraw(nn.Module):
    """The whole model: ``forward`` gives the per-image bound's two terms, ``sample`` runs the prior."""

    def __init__(self, vocab_size: int, image_size: int, channels: int, steps: int, z_dim: int,
                 enc_dim: int, dec_dim: int, lang_dim: int, align_dim: int, read_n: int, write_n: int,
                 align: bool = True, canvas_init: float = 0.0, init_std: float = 0.01):
        super().__init__()
        self.steps, self.z_dim, self.channels, self.image_size = steps, z_dim, channels, image_size
        self.align, self.canvas_init, self.write_n = align, canvas_init, write_n
        self.language = LanguageModel(vocab_size, lang_dim)
        self.alignment = Alignment(2 * lang_dim, dec_dim, align_dim)
        self.read_window = Window(dec_dim, read_n, image_size, image_size)
        self.write_window = Window(dec_dim, write_n, image_size, image_size)
        self.encoder = nn.LSTMCell(2 * channels * read_n * read_n + dec_dim, enc_dim)
        self.decoder = nn.LSTMCell(z_dim + 2 * lang_dim, dec_dim)
        self.posterior = nn.Linear(enc_dim, 2 * z_dim)   # mu, and log sigma^2 (log sigma = 0.5 * linear)
        self.prior = nn.Linear(dec_dim, 2 * z_dim)       # tanh -> mu_p, log sigma_p for the next step
        self.write_patch = nn.Linear(dec_dim, channels * write_n * write_n)
        self.h0_enc = nn.Parameter(torch.zeros(enc_dim))
        self.h0_dec = nn.Parameter(torch.zeros(dec_dim))
        for name, p in self.named_parameters():
            if name.startswith("h0_"):
                continue
            if name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, 0.0, init_std)

    # ---- pieces shared by the bound and sampling --------------------------------------------
    def _caption(self, tokens, mask):
        h_lang = self.language(tokens, mask)
        fixed = None if self.align else LanguageModel.summary(h_lang, mask)
        return h_lang, self.alignment.project(h_lang), fixed

    def _context(self, caption, mask, h_dec):
        h_lang, projected, fixed = caption
        if fixed is not None:
            return fixed, None
        return self.alignment(h_lang, projected, mask, h_dec)

    def _write(self, canvas, h_dec):
        fx, fy, gamma = self.write_window(h_dec)
        patch = self.write_patch(h_dec).view(-1, self.channels, self.write_n, self.write_n)
        return canvas + write(patch.float(), fx, fy, gamma)

    def _prior_params(self, h_dec):
        mu_p, log_sigma_p = torch.tanh(self.prior(h_dec)).chunk(2, 1)
        return mu_p, 2 * log_sigma_p

    def _start(self, b, like):
        h_dec = self.h0_dec.expand(b, -1).to(like.dtype)
        c_dec = torch.zeros_like(h_dec)
        canvas = torch.full((b, self.channels, self.image_size, self.image_size), float(self.canvas_init),
                            device=like.device, dtype=torch.float32)
        return h_dec, c_dec, canvas

    # ---- the variational bound --------------------------------------------------------------
    def forward(self, images01: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                return_alignments: bool = False, per_step: bool = False):
        """(reconstruction nats (B,), KL nats (B,)[, alignments (B, T, L)]) for images in [0, 1];
        with ``per_step`` the KL comes as (B, T), one column per glimpse."""
        b = images01.shape[0]
        caption = self._caption(tokens, mask)
        h_dec, c_dec, canvas = self._start(b, images01)
        h_enc = self.h0_enc.expand(b, -1).to(images01.dtype)
        c_enc = torch.zeros_like(h_enc)
        x = images01.float()
        kls = []
        mu_p = logvar_p = None
        alignments = []
        for _ in range(self.steps):
            x_hat = x - torch.sigmoid(canvas)
            fx, fy, gamma = self.read_window(h_dec)
            r = torch.cat([read(x, fx, fy, gamma), read(x_hat, fx, fy, gamma)], 1).flatten(1)
            s, alpha = self._context(caption, mask, h_dec)
            alignments.append(alpha)
            h_enc, c_enc = self.encoder(torch.cat([r.to(h_dec.dtype), h_dec], 1), (h_enc, c_enc))
            mu, logvar = self.posterior(h_enc).float().chunk(2, 1)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            if mu_p is None:  # step 1: the prior is N(0, I)
                mu_p, logvar_p = torch.zeros_like(mu), torch.zeros_like(logvar)
            kls.append(gaussian_kl(mu, logvar, mu_p.float(), logvar_p.float()))
            h_dec, c_dec = self.decoder(torch.cat([z.to(s.dtype), s], 1), (h_dec, c_dec))
            mu_p, logvar_p = self._prior_params(h_dec)
            canvas = self._write(canvas, h_dec)
        recon = F.binary_cross_entropy_with_logits(canvas, x, reduction="none").flatten(1).sum(1)
        kl = torch.stack(kls, 1)
        if not per_step:
            kl = kl.sum(1)
        if return_alignments:
            return recon, kl, (torch.stack(alignments, 1) if self.align else None)
        return recon, kl

    @torch.no_grad()
    def sample(self, tokens: torch.Tensor, mask: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """sigmoid(c_T) in [0, 1], z_t = mu_p + sigma_p * eps_t from the learned prior; eps (B, T, z)."""
        b = tokens.shape[0]
        caption = self._caption(tokens, mask)
        h_dec, c_dec, canvas = self._start(b, eps)
        mu_p, logvar_p = torch.zeros_like(eps[:, 0]), torch.zeros_like(eps[:, 0])
        for t in range(self.steps):
            z = mu_p + (0.5 * logvar_p).exp() * eps[:, t]
            s, _ = self._context(caption, mask, h_dec)
            h_dec, c_dec = self.decoder(torch.cat([z.to(s.dtype), s], 1), (h_dec, c_dec))
            mu_p, logvar_p = self._prior_params(h_dec)
            canvas = self._write(canvas, h_dec)
        return torch.sigmoid(canvas)
