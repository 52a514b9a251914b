//! A small graph builder over the prost ONNX types: initializers from tch tensors,
//! constants, nodes with unique names, graph inputs/outputs with symbolic dimensions, and the
//! model wrapper with its opset import.
//!
//! Values are referred to by name (`&str`), as in ONNX itself. Each `node` call returns the
//! name of its (first) output, so graphs read like the forward pass they mirror.

use std::collections::HashSet;

use prost::Message;
use tch::{Kind, Tensor};

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::error::{Error, Result};

/// The ONNX opset every exported graph imports (default domain only).
pub const OPSET: i64 = 17;
/// IR version 8 is the one released with opset 17 (ONNX 1.12); every runtime that runs
/// opset 17 reads it.
pub const IR_VERSION: i64 = 8;

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size shared by every place that uses the same name (`batch_size`, …).
    Sym(&'static str),
}

/// Element types used by the exported graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    F32,
    I64,
}

impl Elem {
    fn data_type(self) -> i32 {
        match self {
            Elem::F32 => DataType::Float as i32,
            Elem::I64 => DataType::Int64 as i32,
        }
    }
}

/// Builds one `GraphProto`.
#[derive(Debug)]
pub struct GraphBuilder {
    name: String,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    names: HashSet<String>,
    counter: usize,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            names: HashSet::new(),
            counter: 0,
        }
    }

    fn claim(&mut self, name: &str) -> Result<()> {
        if !self.names.insert(name.to_string()) {
            return Err(self.error(format!("value name `{name}` is used twice")));
        }
        Ok(())
    }

    fn error(&self, message: String) -> Error {
        Error::Export {
            path: format!("graph {}", self.name).into(),
            message,
        }
    }

    /// A fresh value name `/{hint}_{n}`.
    fn fresh(&mut self, hint: &str) -> String {
        loop {
            self.counter += 1;
            let name = format!("/{hint}_{}", self.counter);
            if !self.names.contains(&name) {
                self.names.insert(name.clone());
                return name;
            }
        }
    }

    /// Declares a graph input and returns its name.
    pub fn input(&mut self, name: &str, elem: Elem, dims: &[Dim]) -> Result<String> {
        self.claim(name)?;
        self.inputs.push(value_info(name, elem, dims));
        Ok(name.to_string())
    }

    /// Declares `value` (an existing value) as a graph output named `name`; an `Identity`
    /// node renames it when the names differ.
    pub fn output(&mut self, name: &str, value: &str, elem: Elem, dims: &[Dim]) -> Result<()> {
        if name != value {
            self.claim(name)?;
            self.nodes.push(NodeProto {
                input: vec![value.to_string()],
                output: vec![name.to_string()],
                name: Some(format!("{name}/Identity")),
                op_type: Some("Identity".into()),
                ..Default::default()
            });
        }
        self.outputs.push(value_info(name, elem, dims));
        Ok(())
    }

    /// Adds a float32 tensor from tch as an initializer named `name` (raw little-endian data).
    pub fn initializer(&mut self, name: &str, tensor: &Tensor) -> Result<String> {
        self.claim(name)?;
        let dims = tensor.size();
        let flat = tensor
            .to_device(tch::Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]);
        let values = Vec::<f32>::try_from(&flat)?;
        self.initializers.push(f32_tensor(name, &dims, &values));
        Ok(name.to_string())
    }

    /// A float32 constant (stored as an initializer).
    pub fn const_f32(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> Result<String> {
        self.check_len(hint, dims, values.len())?;
        let name = self.fresh(hint);
        self.initializers.push(f32_tensor(&name, dims, values));
        Ok(name)
    }

    /// An int64 constant (stored as an initializer).
    pub fn const_i64(&mut self, hint: &str, dims: &[i64], values: &[i64]) -> Result<String> {
        self.check_len(hint, dims, values.len())?;
        let name = self.fresh(hint);
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: Some(DataType::Int64 as i32),
            name: Some(name.clone()),
            raw_data: Some(raw),
            ..Default::default()
        });
        Ok(name)
    }

    /// A uint8 initializer named `name` (packed quantized weights).
    pub fn initializer_u8(&mut self, name: &str, dims: &[i64], bytes: Vec<u8>) -> Result<String> {
        self.check_len(name, dims, bytes.len())?;
        self.claim(name)?;
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: Some(DataType::Uint8 as i32),
            name: Some(name.to_string()),
            raw_data: Some(bytes),
            ..Default::default()
        });
        Ok(name.to_string())
    }

    /// A float32 initializer named `name` from values.
    pub fn initializer_f32(&mut self, name: &str, dims: &[i64], values: &[f32]) -> Result<String> {
        self.check_len(name, dims, values.len())?;
        self.claim(name)?;
        self.initializers.push(f32_tensor(name, dims, values));
        Ok(name.to_string())
    }

    /// A scalar (0-d) float32 constant.
    pub fn scalar_f32(&mut self, hint: &str, value: f32) -> Result<String> {
        self.const_f32(hint, &[], &[value])
    }

    /// A 1-D int64 constant.
    pub fn ints(&mut self, hint: &str, values: &[i64]) -> Result<String> {
        self.const_i64(hint, &[values.len() as i64], values)
    }

    fn check_len(&self, hint: &str, dims: &[i64], len: usize) -> Result<()> {
        let want: i64 = dims.iter().product();
        if want != len as i64 {
            return Err(self.error(format!(
                "constant `{hint}` has {len} values for shape {dims:?}"
            )));
        }
        Ok(())
    }

    /// Adds a node with one output and returns the output's name.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> Result<String> {
        let mut outs = self.node_n(op, inputs, 1, attributes)?;
        outs.pop()
            .ok_or_else(|| self.error(format!("node {op} produced no output")))
    }

    /// Adds a node of operator `op` from `domain` (`com.microsoft`: ONNX Runtime's contrib
    /// operators) with one output; [`model`] imports the domains the graph uses.
    pub fn node_in(
        &mut self,
        domain: &str,
        op: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> Result<String> {
        let out = self.node(op, inputs, attributes)?;
        if let Some(n) = self.nodes.last_mut() {
            n.domain = Some(domain.to_string());
        }
        Ok(out)
    }

    /// Adds a node with `n_outputs` outputs.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        n_outputs: usize,
        attributes: Vec<AttributeProto>,
    ) -> Result<Vec<String>> {
        if let Some(missing) = inputs
            .iter()
            .find(|i| !i.is_empty() && !self.names.contains(**i))
        {
            return Err(self.error(format!("node {op} reads the unknown value `{missing}`")));
        }
        let outputs: Vec<String> = (0..n_outputs).map(|_| self.fresh(op)).collect();
        let name = format!("{}/{op}", outputs.first().map_or("", String::as_str));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.clone(),
            name: Some(name),
            op_type: Some(op.to_string()),
            attribute: attributes,
            ..Default::default()
        });
        Ok(outputs)
    }

    /// The finished graph.
    pub fn finish(self) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: Some(self.name),
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        }
    }
}

fn f32_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        name: Some(name.to_string()),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn value_info(name: &str, elem: Elem, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n),
                Dim::Sym(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem.data_type()),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

/// A float attribute.
pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// The version of ONNX Runtime's `com.microsoft` contrib domain the graphs import when they
/// use it.
pub const MS_DOMAIN: &str = "com.microsoft";

/// Wraps `graph` into a model importing [`OPSET`] of the default domain (and version 1 of
/// `com.microsoft` when a node uses it).
pub fn model(graph: GraphProto, doc: &str) -> ModelProto {
    let mut opset_import = vec![OperatorSetIdProto {
        domain: Some(String::new()),
        version: Some(OPSET),
    }];
    if graph
        .node
        .iter()
        .any(|n| n.domain.as_deref() == Some(MS_DOMAIN))
    {
        opset_import.push(OperatorSetIdProto {
            domain: Some(MS_DOMAIN.into()),
            version: Some(1),
        });
    }
    ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import,
        producer_name: Some("reticle-trainer".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(doc.to_string()),
        graph: Some(graph),
        ..Default::default()
    }
}

/// Serialises a model to protobuf bytes.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Initializer bytes above which [`write_model`] stores them in an external data file by
/// default: a protobuf message cannot exceed 2 GiB, and a 2B-parameter model in f32 is 8 GB.
pub const EXTERNAL_DATA_DEFAULT: u64 = 1 << 30;

/// Initializers smaller than this stay inside the graph file (shapes, small constants).
const EXTERNAL_MIN_TENSOR: usize = 1024;

/// Writes `model` to `dir/file` and returns the file names written. When its initializers
/// hold more than `external_above` bytes, their data move to `dir/{file}.data` (ONNX
/// external data: `location`, `offset` (64-byte aligned), `length`), which ONNX Runtime and
/// `onnx.checker` read beside the graph. `dir` is a fresh export folder that is swapped into
/// place whole, so the files need not be written atomically one by one.
pub fn write_model(
    mut model: ModelProto,
    dir: &std::path::Path,
    file: &str,
    external_above: u64,
) -> Result<Vec<String>> {
    let io = |path: &std::path::Path, e: std::io::Error| Error::io(path, e);
    let total: u64 = model
        .graph
        .iter()
        .flat_map(|g| &g.initializer)
        .map(|t| t.raw_data.as_ref().map_or(0, |d| d.len() as u64))
        .sum();
    let mut files = vec![file.to_string()];
    if total > external_above {
        use std::io::Write as _;
        let data_name = format!("{file}.data");
        let data_path = dir.join(&data_name);
        let out = std::fs::File::create(&data_path).map_err(|e| io(&data_path, e))?;
        let mut out = std::io::BufWriter::new(out);
        let mut offset = 0u64;
        for t in model
            .graph
            .iter_mut()
            .flat_map(|g| g.initializer.iter_mut())
        {
            let Some(raw) = t.raw_data.take_if(|d| d.len() >= EXTERNAL_MIN_TENSOR) else {
                continue;
            };
            let pad = (64 - offset % 64) % 64;
            out.write_all(&vec![0u8; pad as usize])
                .map_err(|e| io(&data_path, e))?;
            offset += pad;
            out.write_all(&raw).map_err(|e| io(&data_path, e))?;
            let entry = |key: &str, value: String| super::proto::StringStringEntryProto {
                key: Some(key.into()),
                value: Some(value),
            };
            t.external_data = vec![
                entry("location", data_name.clone()),
                entry("offset", offset.to_string()),
                entry("length", raw.len().to_string()),
            ];
            t.data_location = Some(super::proto::tensor_proto::DataLocation::External as i32);
            offset += raw.len() as u64;
        }
        out.flush().map_err(|e| io(&data_path, e))?;
        tracing::info!(file = %data_name, bytes = offset, "wrote external initializer data");
        files.push(data_name);
    }
    let bytes = encode(&model);
    tracing::info!(file = %file, bytes = bytes.len(), "writing graph");
    let path = dir.join(file);
    std::fs::write(&path, &bytes).map_err(|e| io(&path, e))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_names_are_unique_and_inputs_must_exist() {
        let mut g = GraphBuilder::new("t");
        let x = g.input("x", Elem::F32, &[Dim::Sym("n")]).unwrap();
        let c = g.scalar_f32("two", 2.0).unwrap();
        let y = g.node("Mul", &[&x, &c], vec![]).unwrap();
        let z = g.node("Mul", &[&y, &c], vec![]).unwrap();
        assert_ne!(y, z);
        assert!(g.node("Add", &[&x, "nope"], vec![]).is_err());
        assert!(g.input("x", Elem::F32, &[]).is_err());
        g.output("y", &z, Elem::F32, &[Dim::Sym("n")]).unwrap();
        let m = model(g.finish(), "test");
        let bytes = encode(&m);
        let back = ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, m);
        let graph = back.graph.unwrap();
        assert_eq!(graph.node.len(), 3);
        assert_eq!(graph.initializer.len(), 1);
        assert_eq!(graph.output[0].name.as_deref(), Some("y"));
    }

    #[test]
    fn large_initializers_move_to_an_external_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = GraphBuilder::new("t");
        let big = Tensor::arange(600, (Kind::Float, tch::Device::Cpu));
        g.initializer("big", &big).unwrap();
        g.const_i64("small", &[2], &[1, 2]).unwrap();
        let files = write_model(model(g.finish(), "t"), dir.path(), "m.onnx", 0).unwrap();
        assert_eq!(files, ["m.onnx", "m.onnx.data"]);
        let back = ModelProto::decode(std::fs::read(dir.path().join("m.onnx")).unwrap().as_slice())
            .unwrap();
        let graph = back.graph.unwrap();
        let big = &graph.initializer[0];
        assert!(big.raw_data.is_none());
        let kv: Vec<(String, String)> = big
            .external_data
            .iter()
            .map(|e| (e.key.clone().unwrap(), e.value.clone().unwrap()))
            .collect();
        assert_eq!(
            kv,
            [
                ("location".to_string(), "m.onnx.data".to_string()),
                ("offset".into(), "0".into()),
                ("length".into(), "2400".into())
            ]
        );
        let data = std::fs::read(dir.path().join("m.onnx.data")).unwrap();
        assert_eq!(
            f32::from_le_bytes([data[4], data[5], data[6], data[7]]),
            1.0
        );
        // The small constant stays inline.
        assert_eq!(
            graph.initializer[1].raw_data.as_ref().map(Vec::len),
            Some(16)
        );
        // Below the threshold everything stays in one file.
        let mut g = GraphBuilder::new("t");
        g.initializer(
            "big",
            &Tensor::zeros([600], (Kind::Float, tch::Device::Cpu)),
        )
        .unwrap();
        let files = write_model(model(g.finish(), "t"), dir.path(), "n.onnx", 1 << 20).unwrap();
        assert_eq!(files, ["n.onnx"]);
    }

    #[test]
    fn initializers_are_little_endian_f32() {
        let mut g = GraphBuilder::new("t");
        let t = Tensor::from_slice(&[1.0f32, -2.5, 3.0, 0.25]).view([2, 2]);
        g.initializer("w", &t).unwrap();
        let graph = g.finish();
        let init = &graph.initializer[0];
        assert_eq!(init.dims, vec![2, 2]);
        let raw = init.raw_data.as_ref().unwrap();
        let back: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, vec![1.0, -2.5, 3.0, 0.25]);
    }
}
