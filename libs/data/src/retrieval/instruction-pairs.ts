/**
 * The same query under two instructions, each with its own judgments (FollowIR). The altered instruction makes
 * some of the original's relevant documents irrelevant; p-MRR measures whether a reranker follows that change.
 */
export interface InstructionPair {
  id: string;
  query: string;
  original: { instruction: string; qrels: Map<string, number> };
  altered: { instruction: string; qrels: Map<string, number> };
}
