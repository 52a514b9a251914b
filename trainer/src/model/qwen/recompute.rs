//! Gradient checkpointing for the decoder: a forward pass keeps only each layer's input and
//! recomputes the layer during the backward pass, so activation memory is one `[B, T, H]`
//! tensor per layer instead of every intermediate (attention scores, MLP activations).
//!
//! tch has no custom autograd function, so the backward pass is replayed by hand, as
//! `torch.utils.checkpoint` does without reentrancy:
//!
//! 1. **Forward** (grad mode on): each layer runs under `no_grad` on a detached copy of its
//!    input; the copy of the last layer's output is a leaf that requires grad, and the final
//!    norm, the LM head and the loss are built on it. The [`Tape`] keeps the leaves.
//! 2. **Backward** ([`Tape::backward`], after `loss.backward()` filled the last leaf's
//!    gradient): from the last layer to the first, the layer is recomputed with grad on its
//!    input leaf and `(output · upstream gradient).sum()` is back-propagated, which adds the
//!    layer's parameter gradients and gives its input's gradient, the next upstream one.
//!    Finally the embeddings receive theirs when they require grad (a trainable vision
//!    tower).
//!
//! The head is checkpointed the same way, in chunks of rows: the log-probabilities of the
//! completion tokens are computed under `no_grad`, `rows` at a time, from a detached copy of
//! the last hidden states, so the `rows × vocabulary` logits, their log-softmax and its
//! gradient exist for one chunk at a time, in the forward and again in the backward pass
//! ([`Tape::backward_heads`], which runs before the layers').
//!
//! Dropout: each layer's forward starts from a seed drawn from libtorch's generator, kept on
//! the tape and set again before the recomputation, so adapter dropout draws the same mask
//! both times (the gradients equal those of the plain backward pass).

use std::cell::RefCell;

use tch::{Kind, Tensor};

/// One checkpointed forward pass.
#[derive(Debug)]
pub(super) struct Record {
    /// The tensor the first layer read, with its graph (the embeddings).
    pub embeds: Tensor,
    /// Each layer's input, detached (a leaf that requires grad), with the seed its forward
    /// started from.
    pub inputs: Vec<(Tensor, i64)>,
    /// The last layer's output, detached: the leaf the rest of the graph is built on.
    pub last: Tensor,
    /// What every layer reads besides its input.
    pub cos: Tensor,
    pub sin: Tensor,
    pub mask: Option<Tensor>,
}

/// One chunked head: log-probabilities of `ids` from `hidden`'s rows.
#[derive(Debug)]
pub(super) struct HeadRecord {
    /// The hidden states `[N, H]`, with their graph (ending at a decoder record's `last`).
    pub hidden: Tensor,
    /// `hidden` detached: the chunks are recomputed from it.
    pub leaf: Tensor,
    /// The log-probabilities `[N]` the loss was built on (a leaf).
    pub logp: Tensor,
    /// The token of each row `[N]`.
    pub ids: Tensor,
    pub chunk: i64,
}

/// The checkpointed forward passes since the last backward pass.
#[derive(Debug, Default)]
pub(super) struct Tape {
    records: RefCell<Vec<Record>>,
    heads: RefCell<Vec<HeadRecord>>,
}

/// `head(rows [n, H], ids [n]) → log-probabilities [n]`, over `hidden`'s rows `chunk` at a
/// time under `no_grad` when a tape records (the chunks are recomputed in the backward pass),
/// else in one piece as the caller's grad mode says.
pub(super) fn chunked_logprobs(
    tape: Option<&Tape>,
    hidden: &Tensor,
    ids: &Tensor,
    chunk: i64,
    head: impl Fn(&Tensor, &Tensor) -> Tensor,
) -> Tensor {
    let Some(tape) = tape.filter(|_| grad_enabled()) else {
        return head(hidden, ids);
    };
    let n = hidden.size()[0];
    let chunk = chunk.max(1);
    let leaf = hidden.detach();
    let logp = tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..n)
            .step_by(chunk as usize)
            .map(|s| {
                let len = chunk.min(n - s);
                head(&leaf.narrow(0, s, len), &ids.narrow(0, s, len))
            })
            .collect();
        Tensor::cat(&parts, 0)
    })
    .set_requires_grad(true);
    tape.heads.borrow_mut().push(HeadRecord {
        hidden: hidden.shallow_clone(),
        leaf: leaf.set_requires_grad(true),
        logp: logp.shallow_clone(),
        ids: ids.shallow_clone(),
        chunk,
    });
    logp
}

/// Whether libtorch records gradients now (a forward pass under `no_grad` keeps no tape).
pub(super) fn grad_enabled() -> bool {
    (Tensor::ones([1], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true) * 1.0)
        .requires_grad()
}

/// A seed for one layer's forward, drawn from (and advancing) libtorch's generator.
pub(super) fn draw_seed() -> i64 {
    Tensor::randint(i64::from(i32::MAX), [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0])
}

impl Tape {
    pub(super) fn push(&self, record: Record) {
        self.records.borrow_mut().push(record);
    }

    /// How many forward passes (decoder and head records) wait for their backward pass.
    pub(super) fn pending(&self) -> usize {
        self.records.borrow().len() + self.heads.borrow().len()
    }

    /// Replays the chunked heads' backward passes (after `loss.backward()`, before
    /// [`Tape::backward`]): each chunk is recomputed with grad and back-propagated, then the
    /// hidden states' gradient continues into their graph (the decoder's last leaf).
    pub(super) fn backward_heads(&self, head: impl Fn(&Tensor, &Tensor) -> Tensor) {
        let heads = std::mem::take(&mut *self.heads.borrow_mut());
        for h in heads.iter().rev() {
            let upstream = h.logp.grad();
            if !upstream.defined() {
                continue;
            }
            let n = h.leaf.size()[0];
            for s in (0..n).step_by(h.chunk as usize) {
                let len = h.chunk.min(n - s);
                let lp = head(&h.leaf.narrow(0, s, len), &h.ids.narrow(0, s, len));
                (lp * upstream.narrow(0, s, len))
                    .sum(Kind::Float)
                    .backward();
            }
            if h.hidden.requires_grad() {
                (&h.hidden * h.leaf.grad()).sum(Kind::Float).backward();
            }
        }
    }

    /// Replays the backward pass of every recorded forward, newest first, with `layer(i, x,
    /// record)` recomputing layer `i` on `x`. Call it after `loss.backward()`. A pass whose
    /// output the loss did not use is skipped.
    pub(super) fn backward(&self, layer: impl Fn(usize, &Tensor, &Record) -> Tensor) {
        let records = std::mem::take(&mut *self.records.borrow_mut());
        for rec in records.iter().rev() {
            let mut upstream = rec.last.grad();
            if !upstream.defined() {
                continue;
            }
            for (i, (x, seed)) in rec.inputs.iter().enumerate().rev() {
                tch::manual_seed(*seed);
                let y = layer(i, x, rec);
                (y * &upstream).sum(Kind::Float).backward();
                upstream = x.grad();
            }
            if rec.embeds.requires_grad() {
                (&rec.embeds * &upstream).sum(Kind::Float).backward();
            }
        }
    }
}
