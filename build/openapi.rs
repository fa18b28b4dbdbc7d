//! Generates the OpenAPI 3.1 document of the Connect endpoints from the compiled proto (with its
//! comments): one POST path per RPC of `dbosd.v1.WorkflowService`, request and response schemas per
//! the proto3 JSON mapping (camelCase names, enums as strings, 64-bit integers as strings, well-known
//! types in their JSON forms), each request with an example that decodes, and the Connect error.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{json, Map, Value};

const SERVICE: &str = "dbosd.v1.WorkflowService";
/// How deep examples nest messages (recursive types such as Struct stop here).
const EXAMPLE_DEPTH: usize = 4;

/// The document for `pool`, as pretty JSON.
pub fn document(pool: &DescriptorPool, version: &str) -> Result<String, String> {
    let comments = Comments::new(pool);
    let service = pool
        .get_service_by_name(SERVICE)
        .ok_or_else(|| format!("{SERVICE} is not in the proto"))?;
    let mut schemas = BTreeMap::new();
    let mut paths = Map::new();
    for method in service.methods() {
        let input = method.input();
        let output = method.output();
        collect(&input, &comments, &mut schemas);
        collect(&output, &comments, &mut schemas);
        let streaming = method.is_server_streaming();
        let (request_type, response_type) = if streaming {
            ("application/connect+json", "application/connect+json")
        } else {
            ("application/json", "application/json")
        };
        let description = comments.of(method.parent_file().file_descriptor_proto(), method.path());
        let summary = description
            .split(". ")
            .next()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_owned();
        let mut response_note = format!("The {} message.", output.full_name());
        if streaming {
            response_note = format!(
                "A Connect stream: enveloped {} messages, then the end-of-stream message (its error, if any, and trailers).",
                output.full_name()
            );
        }
        let request_media = json!({
            "schema": reference(&input),
            "example": example(&input, 0),
        });
        let request_note = if streaming {
            format!(
                "One Connect envelope (flags byte 0, 4-byte big-endian length) holding a {} in JSON.",
                input.full_name()
            )
        } else {
            format!("A {} in proto3 JSON.", input.full_name())
        };
        let operation = json!({
            "operationId": method.name(),
            "tags": [service.name()],
            "summary": summary,
            "description": description,
            "parameters": [{
                "name": "Connect-Timeout-Ms",
                "in": "header",
                "required": false,
                "description": "The call's deadline in milliseconds; past it the call ends with deadline_exceeded.",
                "schema": { "type": "integer", "minimum": 0 }
            }],
            "requestBody": {
                "description": request_note,
                "required": true,
                "content": { request_type: request_media }
            },
            "responses": {
                "200": {
                    "description": response_note,
                    "content": { response_type: { "schema": reference(&output) } }
                },
                "default": {
                    "description": "A Connect error (for a stream: in its end-of-stream message, with HTTP 200).",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/connect.Error" } } }
                }
            }
        });
        paths.insert(
            format!("/{SERVICE}/{}", method.name()),
            json!({ "post": operation }),
        );
    }
    let mut components: Map<String, Value> = schemas.into_iter().collect();
    components.insert("connect.Error".into(), connect_error());
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dbosd",
            "version": version,
            "description": comments.of(service.parent_file().file_descriptor_proto(), service.path()),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [{ "bearer": [] }, {}]
    });
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}

/// Leading comments by file and descriptor path.
struct Comments {
    by_path: HashMap<(String, Vec<i32>), String>,
}

impl Comments {
    fn new(pool: &DescriptorPool) -> Self {
        let mut by_path = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            for location in proto.source_code_info.iter().flat_map(|s| &s.location) {
                if let Some(text) = &location.leading_comments {
                    let text: Vec<&str> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect();
                    by_path.insert(
                        (proto.name().to_owned(), location.path.clone()),
                        text.join(" "),
                    );
                }
            }
        }
        Comments { by_path }
    }

    fn of(&self, file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
        self.by_path
            .get(&(file.name().to_owned(), path.to_vec()))
            .cloned()
            .unwrap_or_default()
    }
}

fn reference(message: &MessageDescriptor) -> Value {
    match well_known(message) {
        Some(schema) => schema,
        None => json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) }),
    }
}

/// Adds the schema of `message` and of every message and enum it uses.
fn collect(
    message: &MessageDescriptor,
    comments: &Comments,
    schemas: &mut BTreeMap<String, Value>,
) {
    if well_known(message).is_some() || schemas.contains_key(message.full_name()) {
        return;
    }
    schemas.insert(message.full_name().to_owned(), Value::Null);
    let mut properties = Map::new();
    for field in message.fields() {
        let mut schema = field_schema(&field, comments, schemas);
        let doc = comments.of(field.parent_file().file_descriptor_proto(), field.path());
        if !doc.is_empty() {
            schema = json!({ "allOf": [schema], "description": doc });
            if let Some(inline) = inline_description(&schema) {
                schema = inline;
            }
        }
        properties.insert(field.json_name().to_owned(), schema);
    }
    let mut schema = json!({ "type": "object", "properties": properties });
    let doc = comments.of(
        message.parent_file().file_descriptor_proto(),
        message.path(),
    );
    if !doc.is_empty() {
        schema["description"] = Value::from(doc);
    }
    schemas.insert(message.full_name().to_owned(), schema);
}

/// `{"allOf":[inline], "description"}` flattened when the inner schema is not a reference.
fn inline_description(schema: &Value) -> Option<Value> {
    let inner = schema["allOf"][0].as_object()?;
    if inner.contains_key("$ref") {
        return None;
    }
    let mut flat = inner.clone();
    flat.insert("description".into(), schema["description"].clone());
    Some(Value::Object(flat))
}

fn field_schema(
    field: &FieldDescriptor,
    comments: &Comments,
    schemas: &mut BTreeMap<String, Value>,
) -> Value {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map entry")
        };
        let value = entry.map_entry_value_field();
        return json!({ "type": "object", "additionalProperties": kind_schema(&value.kind(), comments, schemas) });
    }
    let item = kind_schema(&field.kind(), comments, schemas);
    if field.is_list() {
        json!({ "type": "array", "items": item })
    } else {
        item
    }
}

fn kind_schema(kind: &Kind, comments: &Comments, schemas: &mut BTreeMap<String, Value>) -> Value {
    match kind {
        Kind::Double | Kind::Float => json!({ "type": "number" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "uint32", "minimum": 0 })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": ["string", "integer"], "format": "int64" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": ["string", "integer"], "format": "uint64" })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Enum(e) => {
            add_enum(e, comments, schemas);
            json!({ "$ref": format!("#/components/schemas/{}", e.full_name()) })
        }
        Kind::Message(m) => {
            collect(m, comments, schemas);
            reference(m)
        }
    }
}

fn add_enum(e: &EnumDescriptor, comments: &Comments, schemas: &mut BTreeMap<String, Value>) {
    if schemas.contains_key(e.full_name()) {
        return;
    }
    let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
    let values: Vec<String> = e
        .values()
        .filter_map(|v| {
            let doc = comments.of(v.parent_file().file_descriptor_proto(), v.path());
            (!doc.is_empty()).then(|| format!("`{}`: {doc}", v.name()))
        })
        .collect();
    let mut doc = comments.of(e.parent_file().file_descriptor_proto(), e.path());
    if !values.is_empty() {
        doc = format!("{doc} {}", values.join(" ")).trim().to_owned();
    }
    schemas.insert(
        e.full_name().to_owned(),
        json!({ "type": "string", "enum": names, "description": doc }),
    );
}

/// The JSON forms of the well-known types (proto3 JSON mapping).
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$" })
        }
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Empty" => json!({ "type": "object" }),
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        "google.protobuf.Any" => json!({ "type": "object", "required": ["@type"] }),
        "google.protobuf.StringValue" => json!({ "type": "string" }),
        "google.protobuf.BytesValue" => json!({ "type": "string", "contentEncoding": "base64" }),
        "google.protobuf.BoolValue" => json!({ "type": "boolean" }),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({ "type": "integer" })
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "integer"] })
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!({ "type": "number" }),
        _ => return None,
    })
}

/// A request that decodes: every field set (one member per oneof), nesting bounded.
fn example(message: &MessageDescriptor, depth: usize) -> Value {
    if let Some(value) = well_known_example(message) {
        return value;
    }
    let mut out = Map::new();
    let mut oneofs_used = Vec::new();
    for field in message.fields() {
        if let Some(oneof) = field.containing_oneof() {
            if oneofs_used.contains(&oneof.full_name().to_owned()) {
                continue;
            }
            oneofs_used.push(oneof.full_name().to_owned());
        }
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map entry")
            };
            match kind_example(&entry.map_entry_value_field(), depth) {
                Some(v) => json!({ "key": v }),
                None => continue,
            }
        } else {
            match kind_example(&field, depth) {
                Some(v) if field.is_list() => json!([v]),
                Some(v) => v,
                None => continue,
            }
        };
        out.insert(field.json_name().to_owned(), value);
    }
    Value::Object(out)
}

fn kind_example(field: &FieldDescriptor, depth: usize) -> Option<Value> {
    Some(match field.kind() {
        Kind::Double | Kind::Float => json!(1.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => json!(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("1"),
        Kind::Bool => json!(false),
        Kind::String => json!(format!("example-{}", field.name().replace('_', "-"))),
        Kind::Bytes => json!("ZXhhbXBsZQ"),
        Kind::Enum(e) => {
            let value = e
                .values()
                .find(|v| v.number() != 0)
                .or_else(|| e.values().next())?;
            json!(value.name())
        }
        Kind::Message(m) => {
            if let Some(value) = well_known_example(&m) {
                value
            } else if depth >= EXAMPLE_DEPTH {
                return None;
            } else {
                example(&m, depth + 1)
            }
        }
    })
}

fn well_known_example(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!("2026-01-01T00:00:00Z"),
        "google.protobuf.Duration" => json!("1.5s"),
        "google.protobuf.Struct" => json!({ "key": "value" }),
        "google.protobuf.Value" => json!("value"),
        "google.protobuf.ListValue" => json!(["value"]),
        "google.protobuf.Empty" => json!({}),
        "google.protobuf.FieldMask" => json!("example"),
        "google.protobuf.Any" => json!({ "@type": "type.googleapis.com/google.protobuf.Empty" }),
        "google.protobuf.StringValue" => json!("example"),
        "google.protobuf.BytesValue" => json!("ZXhhbXBsZQ"),
        "google.protobuf.BoolValue" => json!(false),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!(1),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => json!("1"),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!(1.5),
        _ => return None,
    })
}

/// Connect's error body.
fn connect_error() -> Value {
    json!({
        "type": "object",
        "description": "A Connect error: the gRPC status code's Connect name and the same message gRPC callers get.",
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "enum": ["canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
                    "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
                    "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
                    "unauthenticated"]
            },
            "message": { "type": "string" },
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": { "type": "string" },
                        "value": { "type": "string", "contentEncoding": "base64" }
                    }
                }
            }
        }
    })
}
