//! Text cut for messages and logs, the one copy the crate uses: what comes
//! from input is quoted whole only up to a bound.

/// `text` cut to at most `max` bytes (at a character boundary), `…` added.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(super::cut("abc".to_owned(), 3), "abc");
        assert_eq!(super::cut("abcd".to_owned(), 3), "abc…");
        // "微" is three bytes: a cut inside it backs off to before it
        assert_eq!(super::cut("a微".to_owned(), 2), "a…");
    }
}
