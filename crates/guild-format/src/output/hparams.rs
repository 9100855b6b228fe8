//! TensorBoard's HParams summaries (the `hparams` plugin's protobufs), so
//! that its HParams dashboard compares runs: an experiment (the flags and
//! metrics of all runs) and, per run, a session (its flags as hparams,
//! its status).

use prost::{Message, Oneof};
use std::collections::HashMap;

#[derive(Clone, PartialEq, Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<Value>,
}

#[derive(Clone, PartialEq, Message)]
struct Value {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(message, optional, tag = "8")]
    tensor: Option<TensorProto>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    /// DT_STRING.
    #[prost(int32, tag = "1")]
    dtype: i32,
    #[prost(message, optional, tag = "2")]
    tensor_shape: Option<TensorShape>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    string_val: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShape {}

#[derive(Clone, PartialEq, Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    content: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(message, optional, tag = "2")]
    experiment: Option<Experiment>,
    #[prost(message, optional, tag = "3")]
    session_start_info: Option<SessionStartInfo>,
    #[prost(message, optional, tag = "4")]
    session_end_info: Option<SessionEndInfo>,
}

#[derive(Clone, PartialEq, Message)]
struct Experiment {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(double, tag = "3")]
    time_created_secs: f64,
    #[prost(message, repeated, tag = "4")]
    hparam_infos: Vec<HParamInfo>,
    #[prost(message, repeated, tag = "5")]
    metric_infos: Vec<MetricInfo>,
    #[prost(string, tag = "6")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct HParamInfo {
    #[prost(string, tag = "1")]
    name: String,
    /// 1 string, 2 bool, 3 float64.
    #[prost(int32, tag = "4")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct MetricInfo {
    #[prost(message, optional, tag = "1")]
    name: Option<MetricName>,
}

#[derive(Clone, PartialEq, Message)]
struct MetricName {
    #[prost(string, tag = "1")]
    group: String,
    #[prost(string, tag = "2")]
    tag: String,
}

#[derive(Clone, PartialEq, Message)]
struct SessionStartInfo {
    #[prost(map = "string, message", tag = "1")]
    hparams: HashMap<String, PValue>,
    #[prost(string, tag = "4")]
    group_name: String,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

#[derive(Clone, PartialEq, Message)]
struct SessionEndInfo {
    /// 1 success, 2 failure, 3 running.
    #[prost(int32, tag = "1")]
    status: i32,
    #[prost(double, tag = "2")]
    end_time_secs: f64,
}

/// `google.protobuf.Value`.
#[derive(Clone, PartialEq, Message)]
struct PValue {
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    kind: Option<Kind>,
}

#[derive(Clone, PartialEq, Oneof)]
enum Kind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
}

/// A flag value as an hparam.
#[derive(Debug, Clone, PartialEq)]
pub enum HValue {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// How a run ended, for its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// It completed.
    Success,
    /// It failed or was terminated.
    Failure,
    /// It is still running.
    Running,
}

fn event(tag: &str, data: HParamsPluginData, wall_time: f64) -> Vec<u8> {
    let value = Value {
        tag: tag.to_string(),
        tensor: Some(TensorProto {
            dtype: 7,
            tensor_shape: Some(TensorShape {}),
            string_val: vec![Vec::new()],
        }),
        metadata: Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: "hparams".into(),
                content: data.encode_to_vec(),
            }),
        }),
    };
    Event {
        wall_time,
        step: 0,
        file_version: None,
        summary: Some(Summary { value: vec![value] }),
    }
    .encode_to_vec()
}

fn version_event(wall_time: f64) -> Vec<u8> {
    Event {
        wall_time,
        step: 0,
        file_version: Some("brain.Event:2".into()),
        summary: None,
    }
    .encode_to_vec()
}

/// An events file (TFRecord framing) with the experiment: every hparam
/// (with its type) and every metric (scalar tag).
pub fn experiment_file(hparams: &[(String, HValue)], metrics: &[String], now: f64) -> Vec<u8> {
    let data = HParamsPluginData {
        version: 0,
        experiment: Some(Experiment {
            description: String::new(),
            time_created_secs: now,
            hparam_infos: hparams
                .iter()
                .map(|(name, v)| HParamInfo {
                    name: name.clone(),
                    r#type: match v {
                        HValue::Text(_) => 1,
                        HValue::Bool(_) => 2,
                        HValue::Number(_) => 3,
                    },
                })
                .collect(),
            metric_infos: metrics
                .iter()
                .map(|m| MetricInfo {
                    name: Some(MetricName {
                        group: String::new(),
                        tag: m.clone(),
                    }),
                })
                .collect(),
            name: String::new(),
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    super::tfevents::record(&version_event(now), &mut out);
    super::tfevents::record(&event("_hparams_/experiment", data, now), &mut out);
    out
}

/// An events file with one run's session: its hparams, when it started,
/// how it ended.
pub fn session_file(
    hparams: &[(String, HValue)],
    group: &str,
    started: f64,
    ended: Option<(SessionStatus, f64)>,
) -> Vec<u8> {
    let start = HParamsPluginData {
        session_start_info: Some(SessionStartInfo {
            hparams: hparams
                .iter()
                .map(|(k, v)| {
                    let kind = match v {
                        HValue::Number(n) => Kind::Number(*n),
                        HValue::Text(t) => Kind::Text(t.clone()),
                        HValue::Bool(b) => Kind::Bool(*b),
                    };
                    (k.clone(), PValue { kind: Some(kind) })
                })
                .collect(),
            group_name: group.to_string(),
            start_time_secs: started,
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    super::tfevents::record(&version_event(started), &mut out);
    super::tfevents::record(
        &event("_hparams_/session_start_info", start, started),
        &mut out,
    );
    if let Some((status, at)) = ended {
        let end = HParamsPluginData {
            session_end_info: Some(SessionEndInfo {
                status: match status {
                    SessionStatus::Success => 1,
                    SessionStatus::Failure => 2,
                    SessionStatus::Running => 3,
                },
                end_time_secs: at,
            }),
            ..Default::default()
        };
        super::tfevents::record(&event("_hparams_/session_end_info", end, at), &mut out);
    }
    out
}
