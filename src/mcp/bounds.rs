//! How big a tool result may be. One call returns at most [`MAX_RESULT_BYTES`] of text: payloads
//! (inputs, outputs, errors, event and stream values) are cut first, each at its own bound with a
//! marker saying how much was left out, lists are paged to fit, and as a last resort the text
//! itself is cut with the same kind of marker.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value as Json;

/// Most text one tool result (or resource read) returns: 64 KiB.
pub const MAX_RESULT_BYTES: usize = 64 * 1024;
/// Most of one payload shown by `get_workflow` and the workflow resource.
pub const FULL_PAYLOAD_BYTES: usize = 16 * 1024;
/// Most of one payload shown per item of a list (workflows with payloads, steps, events, streams).
pub const ITEM_PAYLOAD_BYTES: usize = 2 * 1024;

/// What a cut leaves at the end of the text it shortened.
pub fn marker(shown: usize, total: usize) -> String {
    format!("…[cut by dbosd: {shown} of {total} bytes shown]")
}

/// `text` whole when it fits in `max` bytes, else its longest prefix (at a character boundary)
/// followed by the marker.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &text[..end], marker(end, text.len()))
}

/// The rendered result text: pretty JSON when it fits, else compact JSON, else cut.
pub fn text(value: &Json) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    if pretty.len() <= MAX_RESULT_BYTES {
        return pretty;
    }
    let compact = value.to_string();
    if compact.len() <= MAX_RESULT_BYTES {
        return compact;
    }
    // Room for the marker, so the whole text stays within the bound.
    cut(&compact, MAX_RESULT_BYTES - 64)
}

/// How many of `items` (rendered list entries) fit in one result, leaving room for the rest of
/// it; at least one, so a page always moves on.
pub fn fitting(items: &[Json]) -> usize {
    let mut used = 1024;
    let mut n = 0;
    for item in items {
        used += item.to_string().len() + 1;
        if used > MAX_RESULT_BYTES {
            break;
        }
        n += 1;
    }
    n.max(1)
}

/// The smaller page to ask for again when `items` (a page of `page_size`) do not all fit in one
/// result, so its `next_page_token` continues right after what is shown; `None` when it fits.
pub fn smaller_page(items: &[Json], page_size: u32) -> Option<u32> {
    let fit = fitting(items);
    (fit < items.len() && page_size > 1).then_some(fit as u32)
}

/// A successful tool result holding `value`.
pub fn result(value: &Json) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text(value))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_characters_whole_and_say_how_much_was_shown() {
        assert_eq!(cut("short", 10), "short");
        let cut_text = cut("ééééé", 5); // 10 bytes; byte 5 is inside a character
        assert!(cut_text.starts_with("éé…"), "{cut_text}");
        assert!(cut_text.ends_with("[cut by dbosd: 4 of 10 bytes shown]"));
        let huge = Json::String("x".repeat(3 * MAX_RESULT_BYTES));
        let out = text(&huge);
        assert!(out.len() <= MAX_RESULT_BYTES, "{}", out.len());
        assert!(out.contains("[cut by dbosd:"), "the cut is marked");
    }
}
