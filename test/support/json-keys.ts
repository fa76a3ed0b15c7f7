/** Keys that appear twice in one object of a JSON text (JSON.parse would keep the last silently). */
export function duplicateKeys(json: string): string[] {
  const stack: Array<Set<string> | null> = [];
  const duplicates: string[] = [];
  let i = 0;
  const readString = (): string => {
    let out = '';
    for (i++; json[i] !== '"'; i++) out += json[i] === '\\' ? json[i] + json[++i] : json[i];
    i++;
    return out;
  };
  while (i < json.length) {
    const c = json[i]!;
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    if (c === '"') {
      const text = readString();
      let j = i;
      while (json[j] === ' ') j++;
      const keys = stack[stack.length - 1];
      if (json[j] === ':' && keys) {
        if (keys.has(text)) duplicates.push(text);
        keys.add(text);
      }
      continue;
    }
    i++;
  }
  return duplicates;
}
