"""How tests/unit/data/minilm_reference.json was made: the reference implementation, not run by the tests.

sentence-transformers' all-MiniLM-L6-v2 as the transformers library runs it (PyTorch), on the model files
scripts/sentence_model.sh unpacks: token ids and the mean-pooled, unit-length embedding of each text.
It needs torch and transformers, which the project does not install; it was run once in a separate
Python 3.11 environment (`pip install torch transformers`, HF_HUB_OFFLINE=1).
"""
import json, torch, numpy as np
from transformers import AutoTokenizer, AutoModel
d = "/work/main/var/sentence/all-minilm-l6-v2"
tok = AutoTokenizer.from_pretrained(d); model = AutoModel.from_pretrained(d).eval()
texts = ["my wallet was drained overnight, I never signed anything",
         "Sent 200 USDT from Binance to my TP wallet 3 hours ago, still not arrived!!",
         "Héllo — can't open the app after update (v2.3.1); it just crashes...",
         "a transaction I never made emptied my account"]
out = []
for t in texts:
    enc = tok(t, return_tensors="pt", truncation=True, max_length=128)
    with torch.no_grad(): h = model(**enc).last_hidden_state[0]
    e = h.mean(0); e = e / e.norm()
    out.append({"text": t, "ids": enc["input_ids"][0].tolist(), "embedding": [round(float(x), 6) for x in e]})
json.dump(out, open("tests/unit/data/minilm_reference.json", "w"), ensure_ascii=False)
print("ok")
