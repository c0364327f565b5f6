#!/usr/bin/env python3
"""Lists the module dependency cycles of framealloc/src.

A module (one .rs file) depends on another when it names it in a path
(`crate::a::b`, `super::x`), in code or in `use`. Doc comments and string
literals are ignored; references to items inside a module count as
references to that module. Prints each cycle (strongly connected component
of more than one module) and exits 1 if there is one, 0 otherwise.
"""
import os, re, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'framealloc', 'src')
modules = {}
for dirpath, _, files in os.walk(root):
    for name in files:
        if not name.endswith('.rs'):
            continue
        rel = os.path.relpath(os.path.join(dirpath, name), root)[:-3].split(os.sep)
        if rel[-1] == 'mod':
            rel = rel[:-1]
        if rel == ['lib']:
            rel = []
        modules[tuple(rel)] = os.path.join(dirpath, name)

def strip(text):
    text = re.sub(r'//[^\n]*', '', text)            # comments and doc comments
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)    # string literals
    return text

def resolve(module, path):
    parts = path.split('::')
    if parts[0] == 'crate':
        base, rest = [], parts[1:]
    elif parts[0] in ('super', 'self'):
        base = list(module)
        rest = parts
        while rest and rest[0] in ('super', 'self'):
            if rest[0] == 'super':
                base = base[:-1]
            rest = rest[1:]
    else:
        return None
    target = tuple(base)
    for part in rest:
        if target + (part,) in modules:
            target = target + (part,)
        else:
            break
    return target

edges = {m: set() for m in modules}
for module, path in modules.items():
    text = strip(open(path).read())
    # expand `use a::{b, c::d}` groups one level
    for match in re.finditer(r'\b((?:crate|super|self)(?:::\w+)*)::\{([^{}]*)\}', text):
        for item in match.group(2).split(','):
            item = item.strip().split(' ')[0]
            if item:
                text += f' {match.group(1)}::{item} '
    for match in re.finditer(r'\b((?:crate|super|self)(?:::(?:\w+|\{))+)', text):
        target = resolve(module, match.group(1).rstrip(':{'))
        # a module's own descendants and ancestors are not dependencies
        if target is None or target == module:
            continue
        if target[:len(module)] == module or module[:len(target)] == target:
            continue
        edges[module].add(target)

# Tarjan's strongly connected components
index, low, stack, on, comps = {}, {}, [], set(), []
counter = [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        comps.append(comp)
sys.setrecursionlimit(10000)
for v in modules:
    if v not in index:
        visit(v)
cycles = [c for c in comps if len(c) > 1]
name = lambda m: '::'.join(m) or 'crate'
for comp in cycles:
    members = sorted(comp)
    print('cycle:', ', '.join(name(m) for m in members))
    for m in members:
        print('   ', name(m), '->', ', '.join(sorted(name(t) for t in edges[m] if t in comp)))
print(f'{len(modules)} modules, {sum(len(e) for e in edges.values())} dependencies, {len(cycles)} cycles')
sys.exit(1 if cycles else 0)
