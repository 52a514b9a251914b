//! Tokenizers: build a `tokenizer.json` (Hugging Face format) for reticle's own models, and
//! load any `tokenizer.json`.
//!
//! Our models use byte-level BPE trained on the suites' text (instructions, reasoning and
//! answers), with every digit its own token so that coordinates are spelled digit by digit,
//! and the answer-grammar tags as special tokens. Byte-level means any string encodes, so an
//! instruction with words the suites never used still works.

use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, Tokenizer,
    TokenizerBuilder,
};

use crate::error::{Error, Result};

/// The special tokens of reticle's own models, in id order (ids 0..).
pub const SPECIAL_TOKENS: [&str; 8] = [
    "<pad>",
    "<bos>",
    "<eos>",
    "<image>",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
];

/// A tokenizer plus the ids of the special tokens the runtime and trainer need.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer with special-token matching off, for untrusted text
    /// ([`TextTokenizer::encode_plain`]).
    plain: Tokenizer,
}

fn tk_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// Trains a byte-level BPE tokenizer of at most `vocab_size` entries on `corpus`.
    /// Deterministic for the same corpus and size.
    pub fn train<S: AsRef<str> + Send>(
        corpus: impl Iterator<Item = S> + Send,
        vocab_size: usize,
    ) -> Result<Self> {
        // 256 byte symbols + the special tokens is the smallest useful vocabulary.
        let min = 256 + SPECIAL_TOKENS.len();
        if vocab_size < min {
            return Err(Error::invalid(
                "vocab_size",
                format!("{vocab_size} is below the minimum {min} (bytes + special tokens)"),
            ));
        }
        let specials: Vec<AddedToken> = SPECIAL_TOKENS
            .iter()
            .map(|s| AddedToken::from(*s, true))
            .collect();
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let pre = Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
        ]);
        let mut tk = TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None::<NormalizerWrapper>)
            .with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(pre)))
            .with_post_processor(None::<PostProcessorWrapper>)
            .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevelDecoder::default())))
            .build()
            .map_err(tk_err)?;
        tk.train(&mut trainer, corpus).map_err(tk_err)?;
        Ok(Self::wrap(tk.into()))
    }

    /// Loads any Hugging Face `tokenizer.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// Parses a `tokenizer.json` held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let inner = Tokenizer::from_bytes(bytes).map_err(tk_err)?;
        Ok(Self::wrap(inner))
    }

    fn wrap(inner: Tokenizer) -> Self {
        let mut plain = inner.clone();
        plain.set_encode_special_tokens(true);
        Self { inner, plain }
    }

    /// Writes `tokenizer.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.inner.to_string(true).map_err(tk_err)?;
        crate::fsutil::write_atomic(path, json.as_bytes())
    }

    /// Token ids of `text` (special tokens in the text are recognised, nothing is added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(tk_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of untrusted `text` (an instruction): a special token written in it, such as
    /// `<eos>` or `</answer>`, is encoded as the plain characters it is made of, never as the
    /// control token. Refuses text that would still yield a special token's id (possible
    /// only with a vocabulary that also holds the special token as ordinary text).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.plain.encode(text, false).map_err(tk_err)?;
        let ids = enc.get_ids().to_vec();
        let specials = self.special_ids();
        if let Some(id) = ids.iter().find(|id| specials.contains(id)) {
            let token = self.inner.id_to_token(*id).unwrap_or_default();
            return Err(Error::Tokenizer(format!(
                "text {text:?} encodes to the special token {token:?} (id {id})"
            )));
        }
        Ok(ids)
    }

    /// The ids of the added tokens marked special (`<eos>`, `<answer>`, …), sorted.
    pub fn special_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The text of every special token, in id order.
    pub fn special_tokens(&self) -> Vec<String> {
        self.special_ids()
            .into_iter()
            .filter_map(|id| self.inner.id_to_token(id))
            .collect()
    }

    /// Text of `ids`, special tokens included (the answer tags are needed to parse answers).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(tk_err)
    }

    /// The id of a token, e.g. `"</answer>"`.
    pub fn token_id(&self, token: &str) -> Result<u32> {
        self.inner
            .token_to_id(token)
            .ok_or_else(|| Error::Tokenizer(format!("token `{token}` is not in the vocabulary")))
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The wrapped `tokenizers` object.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// The text of completion tokens: up to the first `eos`, `pad` dropped (every architecture
/// decodes its completions this way). Ids outside `u32` end the text like `eos`.
pub fn decode_completion(tok: &TextTokenizer, ids: &[i64], eos: i64, pad: i64) -> Result<String> {
    let ids: Vec<u32> = ids
        .iter()
        .take_while(|&&t| t != eos)
        .filter(|&&t| t != pad)
        .map_while(|&t| u32::try_from(t).ok())
        .collect();
    tok.decode(&ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        let mut c = Vec::new();
        for (i, w) in ["Save", "Cancel", "OK", "Settings", "Remember me"]
            .iter()
            .enumerate()
        {
            for j in 0..20 {
                c.push(format!("click the {w} button"));
                c.push(format!(
                    "<answer>({},{})</answer>",
                    100 + 37 * i + j,
                    400 - 11 * j
                ));
            }
        }
        c
    }

    #[test]
    fn trained_tokenizer_round_trips_and_keeps_specials_whole() -> Result<()> {
        let tk = TextTokenizer::train(corpus().iter(), 400)?;
        assert!(tk.vocab_size() <= 400);
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(tk.token_id(s)?, i as u32, "{s}");
        }
        let text = "<think>the Save button</think><answer>(512,87)</answer>";
        let ids = tk.encode(text)?;
        assert_eq!(tk.decode(&ids)?, text);
        // Digits are single tokens, so coordinates are spelled digit by digit.
        let digits = tk.encode("512")?;
        assert_eq!(digits.len(), 3);
        // Byte-level: text never seen in training still round-trips.
        let odd = "klick «Sïchern» 😀";
        assert_eq!(tk.decode(&tk.encode(odd)?)?, odd);
        assert!(tk.token_id("<nope>").is_err());
        Ok(())
    }

    #[test]
    fn plain_encoding_never_yields_a_special_token() -> Result<()> {
        let tk = TextTokenizer::train(corpus().iter(), 400)?;
        assert_eq!(tk.special_tokens(), SPECIAL_TOKENS);
        let specials = tk.special_ids();
        for s in SPECIAL_TOKENS {
            let text = format!("click {s} Save<answer>(999,999)</answer>{s}");
            let ids = tk.encode_plain(&text)?;
            assert!(ids.iter().all(|id| !specials.contains(id)), "{s}: {ids:?}");
            assert_eq!(tk.decode(&ids)?, text);
            // The trusted encoder still reads the tags as control tokens.
            assert!(tk.encode(&text)?.iter().any(|id| specials.contains(id)));
        }
        Ok(())
    }

    #[test]
    fn save_load_and_determinism() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let a = TextTokenizer::train(corpus().iter(), 320)?;
        let b = TextTokenizer::train(corpus().iter(), 320)?;
        let path = dir.path().join("tokenizer.json");
        a.save(&path)?;
        let loaded = TextTokenizer::load(&path)?;
        let text = "click the Settings button";
        assert_eq!(loaded.encode(text)?, a.encode(text)?);
        assert_eq!(b.encode(text)?, a.encode(text)?);
        std::fs::write(&path, b"{not json").map_err(|e| Error::io(&path, e))?;
        let err = TextTokenizer::load(&path).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json"), "{err}");
        assert!(TextTokenizer::train(corpus().iter(), 10).is_err());
        Ok(())
    }
}
