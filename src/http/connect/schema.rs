//! The services Connect can call, from the descriptor sets that reflection serves, and the proto3
//! JSON mapping of their messages (via prost-reflect): JSON in, protobuf to the gRPC stack, and back.

use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};
use tonic::Status;

/// The services served over Connect (reflection is bidirectional streaming: gRPC only).
const SERVICES: &[&str] = &["dbosd.v1.WorkflowService", "grpc.health.v1.Health"];

/// The descriptors of the Connect-served services.
pub struct Schema {
    pool: DescriptorPool,
}

/// One callable method, by its request path.
#[derive(Clone)]
pub struct Method {
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    pub server_streaming: bool,
    pub client_streaming: bool,
}

impl Schema {
    /// The pool of dbosd's and the health service's descriptor sets.
    pub fn load() -> Result<Schema, String> {
        let mut pool = DescriptorPool::new();
        for set in [
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            pool.decode_file_descriptor_set(set)
                .map_err(|e| format!("descriptor set: {e}"))?;
        }
        Ok(Schema { pool })
    }

    /// Whether `path` names one of the Connect-served services (`/<service>/<method>`).
    pub fn serves(&self, path: &str) -> bool {
        path.strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .is_some_and(|(service, _)| SERVICES.contains(&service))
    }

    /// The method at `path`, if the service has it.
    pub fn method(&self, path: &str) -> Option<Method> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if !SERVICES.contains(&service) {
            return None;
        }
        let method = self
            .pool
            .get_service_by_name(service)?
            .methods()
            .find(|m| m.name() == method)?;
        Some(Method {
            input: method.input(),
            output: method.output(),
            server_streaming: method.is_server_streaming(),
            client_streaming: method.is_client_streaming(),
        })
    }
}

/// The protobuf encoding of `json`, a `desc` message in proto3 JSON; INVALID_ARGUMENT naming the
/// problem in JSON terms when it is not one.
pub fn json_to_proto(desc: &MessageDescriptor, json: &[u8]) -> Result<Vec<u8>, Status> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let message =
        DynamicMessage::deserialize_with_options(desc.clone(), &mut de, &DeserializeOptions::new())
            .and_then(|m| de.end().map(|()| m))
            .map_err(|e| {
                Status::invalid_argument(format!(
                    "the request body is not a {} in proto3 JSON: {e}",
                    desc.full_name()
                ))
            })?;
    Ok(message.encode_to_vec())
}

/// The proto3 JSON of `proto`, a `desc` message (as the gRPC stack encoded it).
pub fn proto_to_json(desc: &MessageDescriptor, proto: &[u8]) -> Result<Vec<u8>, Status> {
    let message = DynamicMessage::decode(desc.clone(), proto)
        .map_err(|e| Status::internal(format!("response is not a {}: {e}", desc.full_name())))?;
    let mut json = message
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .map_err(|e| Status::internal(format!("cannot write {} as JSON: {e}", desc.full_name())))?;
    integral_numbers(&mut json);
    serde_json::to_vec(&json).map_err(|e| Status::internal(format!("cannot write JSON: {e}")))
}

/// Writes whole doubles as integers (`42`, not `42.0`), as protojson, grpcurl and JavaScript do.
fn integral_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(whole) = n.to_string().strip_suffix(".0") {
                if let Ok(whole) = whole.parse::<serde_json::Number>() {
                    *n = whole;
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str) -> Method {
        Schema::load()
            .unwrap()
            .method(&format!("/dbosd.v1.WorkflowService/{name}"))
            .unwrap()
    }

    #[test]
    fn json_round_trips_through_protobuf() {
        let m = method("ListWorkflows");
        let proto = json_to_proto(&m.input, br#"{"pageSize": 3, "sortDesc": true}"#).unwrap();
        let json = proto_to_json(&m.input, &proto).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["pageSize"], 3);
        assert_eq!(value["sortDesc"], true);
    }

    #[test]
    fn whole_doubles_are_written_as_integers() {
        let mut value: serde_json::Value =
            serde_json::from_str(r#"{"a": [42.0, 1.5, "2.0"], "b": 7}"#).unwrap();
        integral_numbers(&mut value);
        assert_eq!(value.to_string(), r#"{"a":[42,1.5,"2.0"],"b":7}"#);
    }

    #[test]
    fn bad_json_is_invalid_argument_in_json_terms() {
        let m = method("GetWorkflow");
        for body in [&b"{"[..], br#"{"noSuchField": 1}"#, br#"{} trailing"#] {
            let err = json_to_proto(&m.input, body).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(
                err.message().contains("dbosd.v1.GetWorkflowRequest"),
                "{}",
                err.message()
            );
        }
    }

    #[test]
    fn knows_services_and_methods() {
        let schema = Schema::load().unwrap();
        assert!(schema.serves("/dbosd.v1.WorkflowService/Nope"));
        assert!(schema.method("/dbosd.v1.WorkflowService/Nope").is_none());
        assert!(!schema.serves("/openapi.json"));
        assert!(
            schema
                .method("/grpc.health.v1.Health/Watch")
                .unwrap()
                .server_streaming
        );
    }
}
