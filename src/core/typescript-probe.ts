// Imported once to learn whether this process imports TypeScript (see importDefault in registry.ts).
export const typescript = true;
