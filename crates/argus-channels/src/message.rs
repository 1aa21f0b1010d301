//! The **message**: what a chat or email channel sends for a notification, rendered
//! from the receiver's templated fields (`title`, `text`, `message`, `html`, …) with the
//! configuration's templates (`argus_notify::Templates`; the defaults are Argus's own
//! definitions of Alertmanager's template names). This module keeps the limits the
//! services put on a message's length.

/// Cuts `s` to at most `max` characters (Unicode scalar values, Telegram's "runes"),
/// ending with `…` when cut, as Alertmanager's `notify.Truncate` does. Returns whether it
/// cut.
pub fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    if s.chars().count() <= max {
        return (s.to_owned(), false);
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    (kept + "…", true)
}

/// Cuts `s` to at most `max` bytes of UTF-8 on a character boundary, ending with `…`
/// when cut (the byte caps of WeCom's robot).
pub fn truncate_bytes(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut end = budget.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…", &s[..end]), true)
}

/// After a cut of HTML text, drops a character entity the cut split (`&am…`), which
/// Telegram would reject as a parse error.
pub fn repair_cut_entity(s: &mut String) {
    let Some(body) = s.strip_suffix('…') else {
        return;
    };
    if let Some(amp) = body.rfind('&')
        && !body[amp..].contains(';')
    {
        let keep = body[..amp].to_owned();
        *s = keep + "…";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_chars("abcdef", 6), ("abcdef".to_owned(), false));
        assert_eq!(truncate_chars("abcdef", 4), ("abc…".to_owned(), true));
        assert_eq!(truncate_chars("日本語です", 3), ("日本…".to_owned(), true));
        // "日" is 3 bytes, "…" is 3 bytes: 7 bytes hold one of them and the mark.
        assert_eq!(truncate_bytes("日本語", 7), ("日…".to_owned(), true));
        assert_eq!(truncate_bytes("日本語", 9), ("日本語".to_owned(), false));
        let mut cut = "a &amp…".to_owned();
        repair_cut_entity(&mut cut);
        assert_eq!(cut, "a …");
        let mut whole = "a &amp; b…".to_owned();
        repair_cut_entity(&mut whole);
        assert_eq!(whole, "a &amp; b…");
    }
}
