//! Where a JSON text breaks, said exactly: line and column (in characters, 1-based), and the
//! typographic quotes that word processors and blogs put where JSON needs `"`.

/// Quote-like characters that are not JSON's `"`, with their Unicode names.
const LOOKALIKES: [(char, &str); 12] = [
    ('\u{201C}', "LEFT DOUBLE QUOTATION MARK"),
    ('\u{201D}', "RIGHT DOUBLE QUOTATION MARK"),
    ('\u{201E}', "DOUBLE LOW-9 QUOTATION MARK"),
    ('\u{201F}', "DOUBLE HIGH-REVERSED-9 QUOTATION MARK"),
    ('\u{2018}', "LEFT SINGLE QUOTATION MARK"),
    ('\u{2019}', "RIGHT SINGLE QUOTATION MARK"),
    ('\u{201A}', "SINGLE LOW-9 QUOTATION MARK"),
    ('\u{2032}', "PRIME"),
    ('\u{2033}', "DOUBLE PRIME"),
    ('\u{00AB}', "LEFT-POINTING DOUBLE ANGLE QUOTATION MARK"),
    ('\u{00BB}', "RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK"),
    ('\u{FF02}', "FULLWIDTH QUOTATION MARK"),
];

#[derive(Debug, PartialEq, Eq)]
pub struct Lookalike {
    pub line: usize,
    pub column: usize,
    pub character: char,
    pub name: &'static str,
}

impl std::fmt::Display for Lookalike {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} U+{:04X} {}",
            self.character, self.character as u32, self.name
        )
    }
}

/// Every typographic quote in `text`, with its position.
pub fn lookalikes(text: &str) -> Vec<Lookalike> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (j, character) in line.chars().enumerate() {
            if let Some((_, name)) = LOOKALIKES.iter().find(|(c, _)| *c == character) {
                found.push(Lookalike {
                    line: i + 1,
                    column: j + 1,
                    character,
                    name,
                });
            }
        }
    }
    found
}

/// serde_json counts columns in bytes; people and editors count characters.
pub fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = text.lines().nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let mut end = byte_column.min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end -= 1;
    }
    line_text[..end].chars().count() + usize::from(end < byte_column)
}

/// Parses `text` as JSON; a failure is one message with the position, and, when the text holds
/// typographic quotes, each of them and the fix.
pub fn parse(file: &str, text: &str) -> Result<serde_json::Value, String> {
    let error = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let (mut line, mut column) = (
        error.line(),
        char_column(text, error.line(), error.column()),
    );
    let mut problem = strip_position(&error.to_string()).to_string();
    // A raw newline inside a string: serde_json points before the next line's first character.
    if column == 0 && line > 1 {
        line -= 1;
        column = text.lines().nth(line - 1).map_or(0, |l| l.chars().count()) + 1;
        if problem.starts_with("control character") {
            problem = format!("line {line} ends inside a string (its closing \" is missing)");
        }
    }
    let mut message = format!("{file}:{line}:{column}: not valid JSON: {problem}");
    let found = lookalikes(text);
    if !found.is_empty() {
        message.push_str(&format!(
            "\n{file} has {} typographic quote{} where JSON needs a straight \" (U+0022); replace {}:",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            if found.len() == 1 { "it" } else { "each" }
        ));
        for lookalike in &found {
            message.push_str(&format!(
                "\n  {file}:{}:{}: {lookalike}",
                lookalike.line, lookalike.column
            ));
        }
    }
    Err(message)
}

/// serde_json's message without its own " at line L column C" (given in bytes).
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_are_found_with_line_and_character_column() {
        let text = "{\n\"type\": \"DOCKER\u{201D},\n\u{201C}id\": 1}";
        let found = lookalikes(text);
        assert_eq!(
            found,
            [
                Lookalike {
                    line: 2,
                    column: 16,
                    character: '\u{201D}',
                    name: "RIGHT DOUBLE QUOTATION MARK"
                },
                Lookalike {
                    line: 3,
                    column: 1,
                    character: '\u{201C}',
                    name: "LEFT DOUBLE QUOTATION MARK"
                },
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "\u{201D} U+201D RIGHT DOUBLE QUOTATION MARK"
        );
    }

    #[test]
    fn an_unclosed_string_is_placed_at_the_end_of_its_line() {
        let err = parse("a.json", "{\n\"id\": \"demo\u{201D},\n\"cmd\": \"x\"\n}").unwrap_err();
        assert!(
            err.starts_with("a.json:2:14: not valid JSON: line 2 ends inside a string (its closing \" is missing)"),
            "{err}"
        );
        assert!(
            err.ends_with("\n  a.json:2:12: \u{201D} U+201D RIGHT DOUBLE QUOTATION MARK"),
            "{err}"
        );
    }

    #[test]
    fn a_typographic_quote_inside_a_string_is_valid_json() {
        assert!(parse("a.json", "{\"note\": \"the \u{201C}best\u{201D} app\"}").is_ok());
    }

    #[test]
    fn a_parse_error_gives_character_columns() {
        // "é" is two bytes: serde_json says column 10, a reader counts 9.
        let text = "{\"é\": 1 2}";
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_err()
                .column(),
            10
        );
        let err = parse("a.json", text).unwrap_err();
        assert!(
            err.starts_with("a.json:1:9: not valid JSON: expected `,` or `}`"),
            "{err}"
        );
        assert!(!err.contains("typographic"), "{err}");
    }
}
