import onnxProto from 'onnx-proto';
import type { Llama } from './llama';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT,
  INT64 = onnx.TensorProto.DataType.INT64;

/** Which graph `exportOnnx` builds. */
export type OnnxGraph =
  /** Scores sequences that continue a shared prefix: its keys and values come in as `past_key.{i}` / `past_value.{i}` [1, KV, P, d] (P may be 0). */
  | { kind: 'score'; readout: Float32Array }
  /** Runs one prefix [1, P] and returns its keys (rotated) and values, `present_key.{i}` / `present_value.{i}` [1, KV, P, d]. */
  | { kind: 'prefix' };

/**
 * Exports the decoder as an ONNX graph (opset 17). The scoring graph reads the final hidden state of
 * one position per row, times a readout vector. Inputs: `input_ids` int64 [B, S], `rope_cos` and
 * `rope_sin` float [B, 1, S, d] (the rotary tables of the rows' positions P..P+S−1, computed by the
 * caller as the model does), `attention_bias` float [B, 1, S, P+S] (0 where attention is allowed, a
 * large negative number elsewhere), `last_index` int64 [B] (row·S + position of the token to read),
 * and the prefix's keys and values, broadcast to every row. Output: `score` [B].
 * Weights are stored transposed for MatMul; LoRA adapters must be merged first.
 */
export function exportOnnx(model: Llama, graph: OnnxGraph): Uint8Array {
  if (model.adapters.size) throw new Error('exportOnnx: merge the LoRA adapters first (mergeLora)');
  const c = model.config;
  const H = c.num_attention_heads,
    KV = c.num_key_value_heads,
    d = c.head_dim,
    h = c.hidden_size;
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  let counter = 0;
  const fresh = (hint: string) => `${hint}_${counter++}`;

  const node = (
    op: string,
    inputs: string[],
    attrs: Record<string, number | number[]> = {},
    hint = op.toLowerCase(),
  ): string => {
    const out = fresh(hint);
    nodes.push(
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
  };
  /** A node whose output is a graph output of this name. */
  const named = (op: string, inputs: string[], name: string) => {
    nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [name], name }));
    return name;
  };
  const present: string[] = [];
  const floats = (name: string, data: Float32Array, dims: number[]) => {
    initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: FLOAT,
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return name;
  };
  const ints = (values: number[]) => {
    const name = fresh('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    initializers.push(
      onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }),
    );
    return name;
  };
  const scalar = (value: number) => floats(fresh('scalar'), Float32Array.of(value), []);
  const data = (name: string) => model.p(name).dataSync() as Float32Array;
  /** W [out, in] as Wᵀ [in, out]. */
  const transposed = (name: string) => {
    const [out, inF] = model.p(name).shape;
    const w = data(name),
      t = new Float32Array(w.length);
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = w[o * inF + i];
    return floats(`${name}.T`, t, [inF, out]);
  };
  const linear = (x: string, name: string) => {
    const y = node('MatMul', [x, transposed(`${name}.weight`)]);
    return model.params.has(`${name}.bias`)
      ? node('Add', [y, floats(`${name}.bias`, data(`${name}.bias`), [model.p(`${name}.bias`).shape[0]])])
      : y;
  };
  const eps = scalar(c.rms_norm_eps);
  const rmsNorm = (x: string, weight: string) => {
    const ms = node('ReduceMean', [node('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const normed = node('Div', [x, node('Sqrt', [node('Add', [ms, eps])])]);
    return node('Mul', [normed, floats(weight, data(weight), [model.p(weight).shape[0]])]);
  };
  const rotate = (x: string) => {
    // [−x₂, x₁] along the last axis
    const halves = fresh('half');
    nodes.push(
      onnx.NodeProto.create({
        opType: 'Split',
        input: [x, ints([d / 2, d / 2])],
        output: [`${halves}_a`, `${halves}_b`],
        name: halves,
        attribute: [onnx.AttributeProto.create({ name: 'axis', i: 3, type: onnx.AttributeProto.AttributeType.INT })],
      }),
    );
    return node('Concat', [node('Neg', [`${halves}_b`]), `${halves}_a`], { axis: 3 });
  };
  const rope = (x: string) => node('Add', [node('Mul', [x, 'rope_cos']), node('Mul', [rotate(x), 'rope_sin'])]);
  const heads = (x: string, n: number) =>
    node('Transpose', [node('Reshape', [x, ints([0, 0, n, d])])], { perm: [0, 2, 1, 3] }); // [B, n, T, d]
  const repeatKv = (x: string) => {
    // [B, KV, T, d] → [B, H, T, d], head i reading kv head ⌊i/g⌋
    if (H === KV) return x;
    const shape = node('Shape', [x]);
    const [b, t] = [node('Gather', [shape, ints([0])], { axis: 0 }), node('Gather', [shape, ints([2])], { axis: 0 })];
    const expanded = node('Expand', [
      node('Unsqueeze', [x, ints([2])]),
      node('Concat', [b, ints([KV, H / KV]), t, ints([d])], { axis: 0 }),
    ]);
    return node('Reshape', [expanded, node('Concat', [b, ints([H]), t, ints([d])], { axis: 0 })]);
  };

  let x = node(
    'Gather',
    [floats('model.embed_tokens.weight', data('model.embed_tokens.weight'), [c.vocab_size, h]), 'input_ids'],
    { axis: 0 },
  ); // [B, T, h]
  const scale = scalar(1 / Math.sqrt(d));
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const pre = `model.layers.${i}.`;
    const hIn = rmsNorm(x, `${pre}input_layernorm.weight`);
    let q = heads(linear(hIn, `${pre}self_attn.q_proj`), H);
    let k = heads(linear(hIn, `${pre}self_attn.k_proj`), KV);
    let v = heads(linear(hIn, `${pre}self_attn.v_proj`), KV);
    if (c.qk_norm) {
      q = rmsNorm(q, `${pre}self_attn.q_norm.weight`);
      k = rmsNorm(k, `${pre}self_attn.k_norm.weight`);
    }
    q = rope(q);
    k = rope(k); // [B, KV, S, d]
    if (graph.kind === 'score') {
      // the prefix's keys and values before the rows' own: [B, KV, P+S, d]
      const rows = node('Concat', [node('Gather', [node('Shape', [k]), ints([0])], { axis: 0 }), ints([1, 1, 1])], {
        axis: 0,
      });
      k = node('Concat', [node('Expand', [`past_key.${i}`, rows]), k], { axis: 2 });
      v = node('Concat', [node('Expand', [`past_value.${i}`, rows]), v], { axis: 2 });
    } else {
      present.push(named('Identity', [k], `present_key.${i}`), named('Identity', [v], `present_value.${i}`));
    }
    const scores = node('Add', [
      node('Mul', [node('MatMul', [q, node('Transpose', [repeatKv(k)], { perm: [0, 1, 3, 2] })]), scale]),
      'attention_bias',
    ]); // [B, H, S, P+S]
    const y = node('MatMul', [node('Softmax', [scores], { axis: -1 }), repeatKv(v)]); // [B, H, S, d]
    const merged = node('Reshape', [node('Transpose', [y], { perm: [0, 2, 1, 3] }), ints([0, 0, H * d])]);
    x = node('Add', [x, linear(merged, `${pre}self_attn.o_proj`)]);
    const h2 = rmsNorm(x, `${pre}post_attention_layernorm.weight`);
    const gate = linear(h2, `${pre}mlp.gate_proj`);
    const act = node('Mul', [node('Mul', [gate, node('Sigmoid', [gate])]), linear(h2, `${pre}mlp.up_proj`)]);
    x = node('Add', [x, linear(act, `${pre}mlp.down_proj`)]);
  }
  if (graph.kind === 'score') {
    const final = rmsNorm(x, 'model.norm.weight');
    const rows = node('Gather', [node('Reshape', [final, ints([-1, h])]), 'last_index'], { axis: 0 }); // [B, h]
    named(
      'Identity',
      [node('Reshape', [node('MatMul', [rows, floats('readout', graph.readout, [h, 1])]), ints([-1])])],
      'score',
    ); // [B]
  }

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
  const layers = Array.from({ length: c.num_hidden_layers }, (_, i) => i);
  const proto = onnx.GraphProto.create({
    name: `tunekit_${graph.kind}`,
    node: nodes,
    initializer: initializers,
    input:
      graph.kind === 'score'
        ? [
            tensor('input_ids', INT64, ['batch', 'seq']),
            tensor('rope_cos', FLOAT, ['batch', 1, 'seq', d]),
            tensor('rope_sin', FLOAT, ['batch', 1, 'seq', d]),
            tensor('attention_bias', FLOAT, ['batch', 1, 'seq', 'total']),
            tensor('last_index', INT64, ['batch']),
            ...layers.flatMap((i) => [
              tensor(`past_key.${i}`, FLOAT, [1, KV, 'past', d]),
              tensor(`past_value.${i}`, FLOAT, [1, KV, 'past', d]),
            ]),
          ]
        : [
            tensor('input_ids', INT64, [1, 'seq']),
            tensor('rope_cos', FLOAT, [1, 1, 'seq', d]),
            tensor('rope_sin', FLOAT, [1, 1, 'seq', d]),
            tensor('attention_bias', FLOAT, [1, 1, 'seq', 'seq']),
          ],
    output:
      graph.kind === 'score'
        ? [tensor('score', FLOAT, ['batch'])]
        : present.map((name) => tensor(name, FLOAT, [1, KV, 'seq', d])),
  });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tunekit',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })],
    graph: proto,
  });
  return onnx.ModelProto.encode(m).finish();
}
