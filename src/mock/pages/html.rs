//! The few pieces every page under `/_mock/` is made of: escaping, labels in
//! two languages and the page shell (the response with its headers is the
//! wire's [`respond`](crate::mock::wire::answer::respond)).

/// `text` safe inside an element or a quoted attribute.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A label in Chinese and English.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Label {
    pub(crate) zh: &'static str,
    pub(crate) en: &'static str,
}

/// Shorthand for a [`Label`].
pub(crate) const fn label(zh: &'static str, en: &'static str) -> Label {
    Label { zh, en }
}

impl Label {
    /// Both languages; the page's `lang` choice hides one by CSS.
    pub(crate) fn html(&self) -> String {
        format!(
            r#"<span lang="zh">{}</span> <span lang="en">{}</span>"#,
            esc(self.zh),
            esc(self.en)
        )
    }

    /// For an attribute (`title`, `aria-label`): both, separated.
    pub(crate) fn plain(&self) -> String {
        format!("{} / {}", self.zh, self.en)
    }
}

/// Which language a page shows: `?lang=zh`, `?lang=en`, or both (default).
pub(crate) fn language(query: &[(String, String)]) -> &'static str {
    match query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str())
    {
        Some("zh") => "zh",
        Some("en") => "en",
        _ => "zh-en",
    }
}

/// A whole page: `<head>` with the stylesheet and the script (no inline
/// script or style: the Content-Security-Policy forbids them).
pub(crate) fn page(lang: &str, title: Label, body: &str) -> String {
    // `zh-en` is not a language tag: the root says Chinese, the CSS shows both.
    let (root, shown) = match lang {
        "en" => ("en", "en"),
        "zh" => ("zh-CN", "zh"),
        _ => ("zh-CN", "both"),
    };
    format!(
        r#"<!doctype html>
<html lang="{root}" data-show="{shown}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_mock/console.css">
<script src="/_mock/console.js" defer></script>
</head>
<body>
{body}
</body>
</html>
"#,
        title = esc(&title.plain()),
    )
}

/// `fen` (分) as yuan: `39900` → `¥399.00`.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_character_that_can_open_markup_or_close_an_attribute() {
        assert_eq!(
            esc(r#"<a href='x' title="y">&</a>"#),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn fen_become_yuan_with_two_decimals() {
        assert_eq!(yuan(39900), "¥399.00");
        assert_eq!(yuan(1), "¥0.01");
        assert_eq!(yuan(-250), "-¥2.50");
        assert_eq!(yuan(i64::MIN), "-¥92233720368547758.08");
    }
}
