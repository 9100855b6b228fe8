//! TensorBoard event files as Guild 0.9 writes them (TFRecord framing with
//! masked CRC32C, `Event` protobufs via prost) and a reader that also picks
//! up tensor-valued scalars from users' own TensorBoard logs.

use crate::error::{IoContext, Result};
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Event {
    #[prost(double, optional, tag = "1")]
    pub(crate) wall_time: Option<f64>,
    #[prost(int64, tag = "2")]
    pub(crate) step: i64,
    #[prost(string, optional, tag = "3")]
    pub(crate) file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    pub(crate) summary: Option<Summary>,
}

/// A TensorFlow `Summary` protobuf message: the tagged values of an event.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub(crate) value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct SummaryValue {
    #[prost(string, tag = "1")]
    pub(crate) tag: String,
    #[prost(float, optional, tag = "2")]
    pub(crate) simple_value: Option<f32>,
    #[prost(message, optional, tag = "8")]
    pub(crate) tensor: Option<Tensor>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Tensor {
    #[prost(int32, tag = "1")]
    pub(crate) dtype: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) tensor_content: Vec<u8>,
    #[prost(float, repeated, tag = "5")]
    pub(crate) float_val: Vec<f32>,
    #[prost(double, repeated, tag = "6")]
    pub(crate) double_val: Vec<f64>,
}

fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, masked CRC of length, data, masked CRC of data.
pub(crate) fn record(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// A scalar event as Guild 0.9 writes it for an output scalar: step and
/// value, no wall time (the bytes are Guild's).
pub(crate) fn scalar_event(tag: &str, value: f64, step: i64) -> Vec<u8> {
    Event {
        wall_time: None,
        step,
        file_version: None,
        summary: Some(Summary {
            value: vec![SummaryValue {
                tag: tag.into(),
                simple_value: Some(value as f32),
                tensor: None,
            }],
        }),
    }
    .encode_to_vec()
}

/// Appends scalars to `.guild/events.out.tfevents.<ts>.<host>.<pid>.0`,
/// created on the first scalar; every batch is written straight through so
/// a killed run keeps what it logged.
pub(crate) struct EventWriter {
    dir: PathBuf,
    file: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl EventWriter {
    pub fn new(guild_dir: &Path) -> EventWriter {
        EventWriter {
            dir: guild_dir.to_path_buf(),
            file: None,
            buf: Vec::new(),
        }
    }

    pub fn add(&mut self, tag: &str, value: f64, step: i64) {
        record(&scalar_event(tag, value, step), &mut self.buf);
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            let host = crate::platform::hostname();
            let name = format!(
                "events.out.tfevents.{:010}.{}.{}.0",
                chrono::Utc::now().timestamp(),
                host,
                std::process::id()
            );
            let path = self.dir.join(name);
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ctx("creating", &path)?;
            let mut head = Vec::new();
            let ev = Event {
                file_version: Some("brain.Event:2".into()),
                ..Default::default()
            };
            record(&ev.encode_to_vec(), &mut head);
            f.write_all(&head).ctx("writing", &path)?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.buf)
                .ctx("writing scalars in", &self.dir)?;
        }
        self.buf.clear();
        Ok(())
    }
}

/// Every scalar (tag, value, step) in one events file, in file order.
/// A truncated final record (a killed writer) ends the read quietly.
pub fn read_scalars(path: &Path) -> Vec<(String, f64, i64)> {
    read_scalars_timed(path)
        .into_iter()
        .map(|(tag, v, step, _)| (tag, v, step))
        .collect()
}

/// As [`read_scalars`], with each event's wall time (seconds).
pub fn read_scalars_timed(path: &Path) -> Vec<(String, f64, i64, f64)> {
    let Ok(data) = std::fs::read(path) else {
        return Vec::new();
    };
    scalars_timed_in(&data)
}

/// The scalar events in `data` (an events file's bytes), with their wall
/// times.
pub(crate) fn scalars_timed_in(data: &[u8]) -> Vec<(String, f64, i64, f64)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 12 <= data.len() {
        let len = u64::from_le_bytes(data[pos..pos + 8].try_into().unwrap_or([0; 8])) as usize;
        let start = pos + 12;
        let Some(end) = start.checked_add(len) else {
            break;
        };
        if end + 4 > data.len() {
            break;
        }
        if let Ok(ev) = Event::decode(&data[start..end]) {
            if let Some(s) = ev.summary {
                for v in s.value {
                    if let Some(x) = value_of(&v) {
                        out.push((v.tag, x, ev.step, ev.wall_time.unwrap_or(0.0)));
                    }
                }
            }
        }
        pos = end + 4;
    }
    out
}

fn value_of(v: &SummaryValue) -> Option<f64> {
    if let Some(x) = v.simple_value {
        return Some(x as f64);
    }
    let t = v.tensor.as_ref()?;
    match t.dtype {
        1 => t.float_val.first().map(|x| *x as f64).or_else(|| {
            t.tensor_content
                .get(..4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
        }),
        2 => t.double_val.first().copied().or_else(|| {
            t.tensor_content
                .get(..8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_guild() {
        // Observed Guild record for loss 0.2 at step 0.
        let mut out = Vec::new();
        record(&scalar_event("loss", 0.2, 0), &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            hex.starts_with("0f000000000000006d532b092a0d0a0b0a046c6f737315cdcc4c3e"),
            "{hex}"
        );
    }

    #[test]
    fn writes_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let mut w = EventWriter::new(d.path());
        w.flush().unwrap();
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        w.add("loss", 0.5, 0);
        w.add("acc", 0.25, 3);
        w.flush().unwrap();
        let f = std::fs::read_dir(d.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(
            read_scalars(&f),
            vec![("loss".into(), 0.5, 0), ("acc".into(), 0.25, 3)]
        );
        // A torn last record is ignored.
        let mut data = std::fs::read(&f).unwrap();
        data.truncate(data.len() - 3);
        std::fs::write(&f, data).unwrap();
        assert_eq!(read_scalars(&f).len(), 1);
    }
}
