//! Printing results in the chosen `-o` format: one document, or a list streamed row by row (so
//! `--all` and `watch` print as pages and updates arrive). Table cells of a STATUS column are
//! coloured only when colour is on (a terminal without NO_COLOR, or `--color always`).
//!
//! Writes go through `out!`/`outln!` (`super::write_stdout`), so a closed reader ends the process
//! the conventional way instead of a panic.

use std::io::IsTerminal;

use serde_json::Value as Json;

use super::{render, ColorChoice, OutputFormat};

/// Whether text written to `stream` is coloured when nobody chose: only for a person at a terminal
/// who has not set NO_COLOR (pipes, files and log collectors would keep the escapes as text).
pub fn colour_by_default(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The output format and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: OutputFormat,
    pub color: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, color: ColorChoice) -> Printer {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => colour_by_default(&std::io::stdout()),
        };
        Printer { format, color }
    }

    /// One document; `table` renders it for people.
    pub fn doc(&self, doc: &Json, table: impl FnOnce(&Json) -> String) {
        match self.format {
            OutputFormat::Json => outln!("{}", pretty(doc)),
            OutputFormat::Jsonl => outln!("{doc}"),
            OutputFormat::Yaml => out!("{}", yaml(doc)),
            OutputFormat::Table => outln!("{}", table(doc)),
        }
    }

    /// One object as `key: value` lines (tables) or the format's document.
    pub fn fields(&self, doc: &Json) {
        self.doc(doc, render::fields);
    }

    /// A list printed as it arrives, with these columns (header, JSON key) in table form.
    pub fn list(&self, columns: &'static [(&'static str, &'static str)]) -> ListPrinter {
        ListPrinter {
            printer: *self,
            columns,
            widths: columns.iter().map(|(h, _)| h.len()).collect(),
            rows: 0,
        }
    }

    /// Colours a status cell (already padded) when colour is on.
    pub fn paint_status(&self, cell: &str) -> String {
        if !self.color {
            return cell.to_owned();
        }
        let code = match cell.trim_end() {
            "SUCCESS" | "ACTIVE" => "32",
            "ERROR" | "MAX_RECOVERY_ATTEMPTS_EXCEEDED" => "31",
            "CANCELLED" | "PAUSED" => "33",
            "PENDING" | "ENQUEUED" | "DELAYED" => "36",
            _ => return cell.to_owned(),
        };
        format!("\x1b[{code}m{cell}\x1b[0m")
    }
}

/// A list being printed: JSON opens an array at the first row and closes it in `finish`; tables
/// print the header once and keep column widths growing page by page.
pub struct ListPrinter {
    printer: Printer,
    columns: &'static [(&'static str, &'static str)],
    widths: Vec<usize>,
    rows: usize,
}

impl ListPrinter {
    /// Prints a page (or one update) of rows.
    pub fn page(&mut self, rows: &[Json]) {
        for row in rows {
            match self.printer.format {
                OutputFormat::Json => {
                    let sep = if self.rows == 0 { "[\n" } else { ",\n" };
                    out!("{sep}{}", indent(&pretty(row)));
                }
                OutputFormat::Jsonl => outln!("{row}"),
                OutputFormat::Yaml => out!("{}", yaml(&Json::Array(vec![row.clone()]))),
                OutputFormat::Table => {}
            }
            self.rows += 1;
        }
        if self.printer.format == OutputFormat::Table {
            self.table_page(rows);
        }
    }

    fn table_page(&mut self, rows: &[Json]) {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .map(|(_, k)| render::cell(&r[*k]))
                    .collect()
            })
            .collect();
        let first = self.rows == rows.len();
        for row in &cells {
            for (w, c) in self.widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        if first {
            let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
            outln!("{}", self.line(&header));
        }
        for row in &cells {
            outln!("{}", self.line(row));
        }
    }

    fn line(&self, cells: &[String]) -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&self.widths)
            .zip(self.columns)
            .map(|((c, w), (h, _))| {
                let cell = format!("{c:<w$}");
                if *h == "STATUS" && c != h {
                    self.printer.paint_status(&cell)
                } else {
                    cell
                }
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    }

    /// Ends the list (closes the JSON array; an empty table still gets its header).
    pub fn finish(self) {
        match self.printer.format {
            OutputFormat::Json if self.rows == 0 => outln!("[]"),
            OutputFormat::Json => outln!("\n]"),
            OutputFormat::Yaml if self.rows == 0 => outln!("[]"),
            OutputFormat::Table if self.rows == 0 => {
                let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
                outln!("{}", self.line(&header));
            }
            _ => {}
        }
    }
}

fn pretty(v: &Json) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// YAML text of a JSON value (ends with a newline).
pub fn yaml(v: &Json) -> String {
    serde_norway::to_string(&to_yaml(v))
        .unwrap_or_else(|e| format!("# not representable as YAML: {e}\n"))
}

/// JSON to a YAML value by hand: serde_json's arbitrary-precision numbers would otherwise serialize
/// as a private wrapper map.
fn to_yaml(v: &Json) -> serde_norway::Value {
    use serde_norway::Value as Y;
    match v {
        Json::Null => Y::Null,
        Json::Bool(b) => Y::Bool(*b),
        Json::Number(n) => {
            let text = n.to_string();
            if let Ok(i) = text.parse::<i64>() {
                Y::Number(i.into())
            } else if let Ok(u) = text.parse::<u64>() {
                Y::Number(u.into())
            } else {
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && f.to_string() == text => Y::Number(f.into()),
                    _ => Y::String(text),
                }
            }
        }
        Json::String(s) => Y::String(s.clone()),
        Json::Array(a) => Y::Sequence(a.iter().map(to_yaml).collect()),
        Json::Object(m) => Y::Mapping(
            m.iter()
                .map(|(k, v)| (Y::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}
