import onnxProto from 'onnx-proto';
import type { LayerKV, Llama } from './llama';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT,
  INT64 = onnx.TensorProto.DataType.INT64;

/** Which graph `exportOnnx` builds. */
export type OnnxGraph =
  /**
   * Scores sequences that continue a shared prefix: its keys and values come in as `past_key.{i}` /
   * `past_value.{i}` [1, KV, P, d] (P may be 0).
   */
  | { kind: 'score'; readout: Float32Array }
  /**
   * Runs one prefix [1, P] and returns its keys (rotated) and values, `present_key.{i}` / `present_value.{i}`
   * [1, KV, P, d].
   */
  | { kind: 'prefix' };

/**
 * The graph's fixed inputs: the rotary tables of the rows' positions, computed by the caller as the
 * model does, and the additive attention bias.
 */
const ROPE_COS = 'rope_cos',
  ROPE_SIN = 'rope_sin',
  ATTENTION_BIAS = 'attention_bias';

/**
 * Builds one ONNX graph of a model: its nodes and initializers, with the model's ops (`ops.ts`) written
 * as ONNX nodes. The decoder's parts call it from their `onnx` methods; values are named by strings.
 */
export class OnnxBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;
  private readonly eps: string;
  private readonly scale: string;

  constructor(private readonly model: Llama) {
    this.eps = this.scalar(model.config.rms_norm_eps);
    this.scale = this.scalar(1 / Math.sqrt(model.config.head_dim));
  }

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** A node with one output, freshly named; returns the output's name. */
  node(op: string, inputs: string[], attrs: Record<string, number | number[]> = {}, hint = op.toLowerCase()): string {
    const out = this.fresh(hint);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        input: inputs,
        output: [out],
        name: out,
        attribute: Object.entries(attrs).map(([name, v]) =>
          Array.isArray(v)
            ? onnx.AttributeProto.create({ name, ints: v, type: onnx.AttributeProto.AttributeType.INTS })
            : Number.isInteger(v) && name !== 'epsilon' && name !== 'alpha'
              ? onnx.AttributeProto.create({ name, i: v, type: onnx.AttributeProto.AttributeType.INT })
              : onnx.AttributeProto.create({ name, f: v, type: onnx.AttributeProto.AttributeType.FLOAT }),
        ),
      }),
    );
    return out;
  }

  /** A node whose output is a graph output of this name. */
  named(op: string, inputs: string[], name: string): string {
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [name], name }));
    return name;
  }

  floats(name: string, data: Float32Array, dims: number[]): string {
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: FLOAT,
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return name;
  }

  ints(values: number[]): string {
    const name = this.fresh('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  }

  scalar(value: number): string {
    return this.floats(this.fresh('scalar'), Float32Array.of(value), []);
  }

  /** The model's parameter of this checkpoint name, as stored. */
  param(name: string): string {
    const p = this.model.param(name);
    return this.floats(name, p.dataSync() as Float32Array, p.shape);
  }

  /** The parameter W [out, in] as Wᵀ [in, out], for MatMul. */
  private transposed(name: string): string {
    const p = this.model.param(name);
    const [out, inF] = p.shape;
    const w = p.dataSync() as Float32Array,
      t = new Float32Array(w.length);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = w[o * inF + i];
    return this.floats(`${name}.T`, t, [inF, out]);
  }

  /** x·Wᵀ + b of the projection `name` (LoRA adapters must be merged). */
  linear(x: string, name: string): string {
    const y = this.node('MatMul', [x, this.transposed(`${name}.weight`)]);
    return this.model.params.has(`${name}.bias`) ? this.node('Add', [y, this.param(`${name}.bias`)]) : y;
  }

  rmsNorm(x: string, weight: string): string {
    const ms = this.node('ReduceMean', [this.node('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const normed = this.node('Div', [x, this.node('Sqrt', [this.node('Add', [ms, this.eps])])]);
    return this.node('Mul', [normed, this.param(weight)]);
  }

  /** HF's rotate_half convention with the graph's rotary tables: x·cos + [−x₂, x₁]·sin. */
  rope(x: string): string {
    const [x1, x2] = this.halves(x);
    const rotated = this.concat([this.node('Neg', [x2]), x1], 3);
    return this.node('Add', [this.node('Mul', [x, ROPE_COS]), this.node('Mul', [rotated, ROPE_SIN])]);
  }

  /** [B, T, n·d] → [B, n, T, d]. */
  heads(x: string, n: number): string {
    const d = this.model.config.head_dim;
    return this.node('Transpose', [this.node('Reshape', [x, this.ints([0, 0, n, d])])], { perm: [0, 2, 1, 3] });
  }

  /** [B, n, T, d] → [B, T, width = n·d]. */
  mergeHeads(y: string, width: number): string {
    return this.node('Reshape', [this.node('Transpose', [y], { perm: [0, 2, 1, 3] }), this.ints([0, 0, width])]);
  }

  concat(parts: string[], axis: number): string {
    return this.node('Concat', parts, { axis });
  }

  /** softmax(q·kᵀ·scale + bias)·v for q [B, H, T, d] and k, v [B, KV, P+T, d] → [B, H, T, d]. */
  attention(q: string, k: string, v: string): string {
    const scores = this.node('Add', [
      this.node('Mul', [
        this.node('MatMul', [q, this.node('Transpose', [this.repeatKv(k)], { perm: [0, 1, 3, 2] })]),
        this.scale,
      ]),
      ATTENTION_BIAS,
    ]); // [B, H, T, P+T]
    return this.node('MatMul', [this.node('Softmax', [scores], { axis: -1 }), this.repeatKv(v)]);
  }

  /** [B, KV, T, d] → [B, H, T, d], head i reading kv head ⌊i/g⌋ (HF's repeat_interleave). */
  private repeatKv(x: string): string {
    const { num_attention_heads: H, num_key_value_heads: KV, head_dim: d } = this.model.config;
    if (H === KV) return x;
    const shape = this.node('Shape', [x]);
    const b = this.node('Gather', [shape, this.ints([0])], { axis: 0 }),
      t = this.node('Gather', [shape, this.ints([2])], { axis: 0 });
    const expanded = this.node('Expand', [
      this.node('Unsqueeze', [x, this.ints([2])]),
      this.concat([b, this.ints([KV, H / KV]), t, this.ints([d])], 0),
    ]);
    return this.node('Reshape', [expanded, this.concat([b, this.ints([H]), t, this.ints([d])], 0)]);
  }

  /** x split in two halves along its last axis (3). */
  private halves(x: string): [string, string] {
    const d = this.model.config.head_dim;
    const name = this.fresh('half');
    const halves: [string, string] = [`${name}_a`, `${name}_b`];
    this.nodes.push(
      onnx.NodeProto.create({
        opType: 'Split',
        input: [x, this.ints([d / 2, d / 2])],
        output: halves,
        name,
        attribute: [onnx.AttributeProto.create({ name: 'axis', i: 3, type: onnx.AttributeProto.AttributeType.INT })],
      }),
    );
    return halves;
  }
}

/**
 * Exports the decoder as an ONNX graph (opset 17), node by node from its own parts (`Block.onnx`). The
 * scoring graph reads the final hidden state of one position per row, times a readout vector. Inputs:
 * `input_ids` int64 [B, S], `rope_cos` and `rope_sin` float [B, 1, S, d] (the rotary tables of the rows'
 * positions P..P+S−1, computed by the caller as the model does), `attention_bias` float [B, 1, S, P+S] (0 where
 * attention is allowed, a large negative number elsewhere), `last_index` int64 [B] (row·S + position of the
 * token to read), and the prefix's keys and values, broadcast to every row. Output: `score` [B].
 * Weights are stored transposed for MatMul; LoRA adapters must be merged first.
 */
export function exportOnnx(model: Llama, graph: OnnxGraph): Uint8Array {
  if (model.adapters.size) throw new Error('exportOnnx: merge the LoRA adapters first (mergeLora)');
  const c = model.config;
  const g = new OnnxBuilder(model);
  const past = graph.kind === 'score' ? broadcastPast(g, c.num_hidden_layers) : [];
  let x = g.node('Gather', [g.param('model.embed_tokens.weight'), 'input_ids'], { axis: 0 }); // [B, S, h]
  const present: LayerKV<string>[] = [];
  model.layers.forEach((block, i) => {
    const out = block.onnx(g, x, past[i]);
    x = out.x; // [B, S, h]
    present.push(out.present);
  });
  if (graph.kind === 'score') {
    const h = c.hidden_size;
    const final = model.norm.onnx(g, x); // [B, S, h]
    const rows = g.node('Gather', [g.node('Reshape', [final, g.ints([-1, h])]), 'last_index'], { axis: 0 }); // [B, h]
    const score = g.node('MatMul', [rows, g.floats('readout', graph.readout, [h, 1])]); // [B, 1]
    g.named('Identity', [g.node('Reshape', [score, g.ints([-1])])], 'score'); // [B]
  } else {
    present.forEach(({ k, v }, i) => {
      g.named('Identity', [k], `present_key.${i}`);
      g.named('Identity', [v], `present_value.${i}`);
    });
  }
  return encodeModel(g, model, graph.kind);
}

/** The prefix's keys and values [1, KV, P, d], graph inputs, repeated for every row: [B, KV, P, d]. */
function broadcastPast(g: OnnxBuilder, layers: number): LayerKV<string>[] {
  const batch = g.node('Gather', [g.node('Shape', ['input_ids']), g.ints([0])], { axis: 0 }); // [1]: B
  const rows = g.concat([batch, g.ints([1, 1, 1])], 0); // [4]: B, 1, 1, 1
  return Array.from({ length: layers }, (_, i) => ({
    k: g.node('Expand', [`past_key.${i}`, rows]),
    v: g.node('Expand', [`past_value.${i}`, rows]),
  }));
}

function encodeModel(g: OnnxBuilder, model: Llama, kind: OnnxGraph['kind']): Uint8Array {
  const { num_key_value_heads: KV, head_dim: d, num_hidden_layers: n } = model.config;
  const tensor = (name: string, type: number, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: type,
          shape: onnx.TensorShapeProto.create({
            dim: dims.map((dim) =>
              onnx.TensorShapeProto.Dimension.create(typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim }),
            ),
          }),
        }),
      }),
    });
  const layers = Array.from({ length: n }, (_, i) => i);
  const proto = onnx.GraphProto.create({
    name: `tunekit_${kind}`,
    node: g.nodes,
    initializer: g.initializers,
    input:
      kind === 'score'
        ? [
            tensor('input_ids', INT64, ['batch', 'seq']),
            tensor(ROPE_COS, FLOAT, ['batch', 1, 'seq', d]),
            tensor(ROPE_SIN, FLOAT, ['batch', 1, 'seq', d]),
            tensor(ATTENTION_BIAS, FLOAT, ['batch', 1, 'seq', 'total']),
            tensor('last_index', INT64, ['batch']),
            ...layers.flatMap((i) => [
              tensor(`past_key.${i}`, FLOAT, [1, KV, 'past', d]),
              tensor(`past_value.${i}`, FLOAT, [1, KV, 'past', d]),
            ]),
          ]
        : [
            tensor('input_ids', INT64, [1, 'seq']),
            tensor(ROPE_COS, FLOAT, [1, 1, 'seq', d]),
            tensor(ROPE_SIN, FLOAT, [1, 1, 'seq', d]),
            tensor(ATTENTION_BIAS, FLOAT, [1, 1, 'seq', 'seq']),
          ],
    output:
      kind === 'score'
        ? [tensor('score', FLOAT, ['batch'])]
        : layers.flatMap((i) => [
            tensor(`present_key.${i}`, FLOAT, [1, KV, 'seq', d]),
            tensor(`present_value.${i}`, FLOAT, [1, KV, 'seq', d]),
          ]),
  });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tunekit',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
    graph: proto,
  });
  return onnx.ModelProto.encode(m).finish();
}
