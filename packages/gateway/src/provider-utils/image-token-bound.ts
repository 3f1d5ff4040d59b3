/**
 * The most input tokens one image part may cost where a provider documents no bound of its own: the largest any
 * provider documents. OpenAI's vision guide ("Calculating costs") bills gpt-4o-mini at high detail 2,833 base tokens
 * plus 5,667 a 512 px tile, and an image fit in 2,048 px with its short side at most 768 px covers at most 4 × 2
 * tiles: 2,833 + 8 × 5,667. Others stay below it (gpt-4o 1,445; gpt-4.1-nano's 1,536 patches × 2.46 ≈ 3,779;
 * Together's vision models up to 6,404; Claude 4,784).
 */
export const unknownImageTokenBound = 48_169;
