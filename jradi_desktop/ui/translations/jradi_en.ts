<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="ja">
<context>
    <name>ChatPanel</name>
    <message>
        <source>会話を検索</source>
        <translation>Search conversations</translation>
    </message>
    <message>
        <source>新しい会話</source>
        <translation>New conversation</translation>
    </message>
    <message>
        <source>削除</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>医療上の判断は必ず医師が行ってください。AI の回答には誤りが含まれることがあります。</source>
        <translation>Medical decisions must be made by a physician. AI answers can be wrong.</translation>
    </message>
    <message>
        <source>医療に関する質問を下の欄に入力して、送信してください。</source>
        <translation>Type a medical question below and send it.</translation>
    </message>
    <message>
        <source>選択肢問題モード</source>
        <translation>Multiple-choice mode</translation>
    </message>
    <message>
        <source>質問を入力（Ctrl+Enter で送信）</source>
        <translation>Type a question (Ctrl+Enter to send)</translation>
    </message>
    <message>
        <source>送信 (Ctrl+Enter)</source>
        <translation>Send (Ctrl+Enter)</translation>
    </message>
    <message>
        <source>停止 (Esc)</source>
        <translation>Stop (Esc)</translation>
    </message>
    <message>
        <source>再生成</source>
        <translation>Regenerate</translation>
    </message>
    <message>
        <source>Markdown に書き出し…</source>
        <translation>Export to Markdown…</translation>
    </message>
    <message>
        <source>この会話を削除しますか？</source>
        <translation>Delete this conversation?</translation>
    </message>
    <message>
        <source>選択肢は 2〜8 個、1 行に 1 つずつ入力してください（現在 {0} 個）。</source>
        <translation>Enter 2 to 8 choices, one per line (now {0}).</translation>
    </message>
    <message>
        <source>停止しています…</source>
        <translation>Stopping…</translation>
    </message>
    <message>
        <source>モデルが読み込まれていません。メニューの「モデル」から追加してください。</source>
        <translation>No model is loaded. Add one from the Model menu.</translation>
    </message>
    <message>
        <source>ほかの生成が実行中です。終わってから送信してください。</source>
        <translation>Another generation is running. Send again when it has finished.</translation>
    </message>
    <message>
        <source>医療QA</source>
        <translation>Medical QA</translation>
    </message>
    <message>
        <source>回答を生成中…（Esc で停止）</source>
        <translation>Generating the answer… (Esc to stop)</translation>
    </message>
    <message>
        <source>選択肢（1 行に 1 つ、2〜8 個）</source>
        <translation>Choices (one per line, 2 to 8)</translation>
    </message>
    <message>
        <source>例：
肺炎
気胸
胸水</source>
        <translation>e.g.
pneumonia
pneumothorax
pleural effusion</translation>
    </message>
    <message>
        <source>停止しました。</source>
        <translation>Stopped.</translation>
    </message>
    <message>
        <source>（停止）</source>
        <translation>(stopped)</translation>
    </message>
    <message>
        <source>（最大長で打ち切り）</source>
        <translation>(cut at the maximum length)</translation>
    </message>
    <message>
        <source>回答しました（{0:.1f} 秒）</source>
        <translation>Answered ({0:.1f} s)</translation>
    </message>
    <message>
        <source>回答を生成できませんでした。</source>
        <translation>The answer could not be generated.</translation>
    </message>
    <message>
        <source>入力した質問は入力欄に残っています。</source>
        <translation>Your question is still in the input box.</translation>
    </message>
    <message>
        <source>あなた</source>
        <translation>You</translation>
    </message>
    <message>
        <source>答え：</source>
        <translation>Answer: </translation>
    </message>
    <message>
        <source>答え：（回答から読み取れませんでした）</source>
        <translation>Answer: (could not be read from the reply)</translation>
    </message>
    <message>
        <source>理由</source>
        <translation>Reasoning</translation>
    </message>
    <message>
        <source>AI（生成中…）</source>
        <translation>AI (generating…)</translation>
    </message>
    <message>
        <source>AI</source>
        <translation>AI</translation>
    </message>
    <message>
        <source>エラー</source>
        <translation>Error</translation>
    </message>
    <message>
        <source>質問</source>
        <translation>Question</translation>
    </message>
    <message>
        <source>回答</source>
        <translation>Answer</translation>
    </message>
    <message>
        <source>書き出し日時</source>
        <translation>Exported at</translation>
    </message>
    <message>
        <source>Markdown に書き出し</source>
        <translation>Export to Markdown</translation>
    </message>
    <message>
        <source>書き出せませんでした：</source>
        <translation>Could not export: </translation>
    </message>
    <message>
        <source>書き出しました：</source>
        <translation>Exported: </translation>
    </message>
</context>
<context>
    <name>FirstStartPage</name>
    <message>
        <source>モデルを登録してください</source>
        <translation>Register a model</translation>
    </message>
    <message>
        <source>JRadi Desktop は、このコンピューターの中だけで動く AI モデルを使います。はじめに、統合済みの JRadiEvo モデルの次の 2 つのファイルを登録してください。</source>
        <translation>JRadi Desktop uses an AI model that runs only inside this computer. First register these two files of the merged JRadiEvo model.</translation>
    </message>
    <message>
        <source>言語モデル（レポート作成と医療QA）</source>
        <translation>the language model (reports and medical QA)</translation>
    </message>
    <message>
        <source>画像エンコーダー（X 線画像の読影に必要）</source>
        <translation>the vision encoder (needed to read X-ray images)</translation>
    </message>
    <message>
        <source>これらのファイルは、エンジニアが jradi-engine export-gguf で作成します。受け取ったファイルを同じフォルダーに置き、「モデルを追加…」で model.gguf を選んでください。mmproj.gguf は同じフォルダーから自動で見つかります。</source>
        <translation>Engineers make these files with jradi-engine export-gguf. Put them in one folder and choose model.gguf with &quot;Add model…&quot;; mmproj.gguf is found in the same folder.</translation>
    </message>
    <message>
        <source>モデルを追加…</source>
        <translation>Add model…</translation>
    </message>
    <message>
        <source>デモモデルをインストール（臨床使用不可）</source>
        <translation>Install the demo model (not for clinical use)</translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message>
        <source>レポートを検索（所見・印象・臨床情報・ファイル名）</source>
        <translation>Search reports (findings, impression, indication, file name)</translation>
    </message>
    <message>
        <source>日時</source>
        <translation>Date</translation>
    </message>
    <message>
        <source>画像</source>
        <translation>Image</translation>
    </message>
    <message>
        <source>モデル</source>
        <translation>Model</translation>
    </message>
    <message>
        <source>レポート</source>
        <translation>Report</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>レポート</source>
        <translation>Report</translation>
    </message>
    <message>
        <source>医療QA</source>
        <translation>Medical QA</translation>
    </message>
    <message>
        <source>履歴</source>
        <translation>History</translation>
    </message>
    <message>
        <source>チューニング</source>
        <translation>Tuning</translation>
    </message>
    <message>
        <source>チューニング（モデルの進化的マージと LoRA 学習）は準備中です。</source>
        <translation>Tuning (evolutionary model merging and LoRA training) is not available yet.</translation>
    </message>
    <message>
        <source>画像が見つかりません</source>
        <translation>No images found</translation>
    </message>
    <message>
        <source>開けないファイル</source>
        <translation>Files that could not be opened</translation>
    </message>
    <message>
        <source>画像を開く</source>
        <translation>Open images</translation>
    </message>
    <message>
        <source>画像 (*.dcm *.dicom *.png *.jpg *.jpeg);;すべてのファイル (*)</source>
        <translation>Images (*.dcm *.dicom *.png *.jpg *.jpeg);;All files (*)</translation>
    </message>
    <message>
        <source>この環境にはデモモデルを作成するエンジン（torch）がありません。配布版のインストーラーにはデモモデルが含まれています。</source>
        <translation>This installation has no engine (torch) to build the demo model. The packaged installer includes it.</translation>
    </message>
    <message>
        <source>デモモデル</source>
        <translation>Demo model</translation>
    </message>
    <message>
        <source>デモモデルを作成しています…</source>
        <translation>Building the demo model…</translation>
    </message>
    <message>
        <source>中止</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>デモモデルを作成できません</source>
        <translation>Cannot build the demo model</translation>
    </message>
    <message>
        <source>モデルを追加できません</source>
        <translation>Cannot add the model</translation>
    </message>
    <message>
        <source>先に画像を開いてください</source>
        <translation>Open an image first</translation>
    </message>
    <message>
        <source>中止しました</source>
        <translation>Stopped</translation>
    </message>
    <message>
        <source>%1 秒で生成しました</source>
        <translation>Generated in %1 s</translation>
    </message>
    <message>
        <source>生成に失敗しました</source>
        <translation>Generation failed</translation>
    </message>
    <message>
        <source>生成エラー</source>
        <translation>Generation error</translation>
    </message>
    <message>
        <source>レポートの書き出し</source>
        <translation>Export the report</translation>
    </message>
    <message>
        <source>書き出せません</source>
        <translation>Cannot export</translation>
    </message>
    <message>
        <source>書き出しました：</source>
        <translation>Exported: </translation>
    </message>
    <message>
        <source>保存されていない下書き</source>
        <translation>Unsaved draft</translation>
    </message>
    <message>
        <source>前回終了時に保存されていないレポートの下書きがあります。復元しますか？</source>
        <translation>A report draft was not saved when the app last closed. Restore it?</translation>
    </message>
    <message>
        <source>開く…</source>
        <translation>Open…</translation>
    </message>
    <message>
        <source>終了</source>
        <translation>Quit</translation>
    </message>
    <message>
        <source>全体表示</source>
        <translation>Fit to window</translation>
    </message>
    <message>
        <source>等倍 (1:1)</source>
        <translation>Actual size (1:1)</translation>
    </message>
    <message>
        <source>白黒反転</source>
        <translation>Invert</translation>
    </message>
    <message>
        <source>リセット</source>
        <translation>Reset</translation>
    </message>
    <message>
        <source>患者情報を表示</source>
        <translation>Show patient information</translation>
    </message>
    <message>
        <source>患者情報を匿名化</source>
        <translation>Anonymise patient information</translation>
    </message>
    <message>
        <source>情報表示を隠す</source>
        <translation>Hide overlay</translation>
    </message>
    <message>
        <source>モデルの管理…</source>
        <translation>Manage models…</translation>
    </message>
    <message>
        <source>デモモデルをインストール（臨床使用不可）</source>
        <translation>Install the demo model (not for clinical use)</translation>
    </message>
    <message>
        <source>ヘッダー値</source>
        <translation>Header</translation>
    </message>
    <message>
        <source>自動</source>
        <translation>Auto</translation>
    </message>
    <message>
        <source>肺野</source>
        <translation>Lung</translation>
    </message>
    <message>
        <source>縦隔</source>
        <translation>Mediastinum</translation>
    </message>
    <message>
        <source>骨</source>
        <translation>Bone</translation>
    </message>
    <message>
        <source>ファイル</source>
        <translation>File</translation>
    </message>
    <message>
        <source>最近使ったファイル</source>
        <translation>Recent files</translation>
    </message>
    <message>
        <source>表示</source>
        <translation>View</translation>
    </message>
    <message>
        <source>ウィンドウ プリセット</source>
        <translation>Window presets</translation>
    </message>
    <message>
        <source>画像上の情報</source>
        <translation>Overlay</translation>
    </message>
    <message>
        <source>モデル</source>
        <translation>Model</translation>
    </message>
    <message>
        <source>言語 / Language</source>
        <translation>言語 / Language</translation>
    </message>
</context>
<context>
    <name>ModelManagerDialog</name>
    <message>
        <source>モデル管理</source>
        <translation>Models</translation>
    </message>
    <message>
        <source>閉じる</source>
        <translation>Close</translation>
    </message>
    <message>
        <source>名前</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>種類</source>
        <translation>Kind</translation>
    </message>
    <message>
        <source>既定</source>
        <translation>Default</translation>
    </message>
    <message>
        <source>ファイル</source>
        <translation>File</translation>
    </message>
    <message>
        <source>GGUF を追加…</source>
        <translation>Add GGUF…</translation>
    </message>
    <message>
        <source>HF フォルダーを追加…</source>
        <translation>Add HF folder…</translation>
    </message>
    <message>
        <source>既定にする</source>
        <translation>Make default</translation>
    </message>
    <message>
        <source>削除</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>選択したモデル</source>
        <translation>Selected model</translation>
    </message>
    <message>
        <source>すべて</source>
        <translation>All</translation>
    </message>
    <message>
        <source>GPU に載せる層の数（0 = CPU のみ）。GGUF のみ。</source>
        <translation>Layers offloaded to the GPU (0 = CPU only). GGUF only.</translation>
    </message>
    <message>
        <source>自動</source>
        <translation>Auto</translation>
    </message>
    <message>
        <source>GPU 層数</source>
        <translation>GPU layers</translation>
    </message>
    <message>
        <source>コンテキスト長</source>
        <translation>Context length</translation>
    </message>
    <message>
        <source>スレッド数</source>
        <translation>Threads</translation>
    </message>
    <message>
        <source>テンプレート</source>
        <translation>Template</translation>
    </message>
    <message>
        <source>自動（モデル内蔵）</source>
        <translation>Auto (from the model)</translation>
    </message>
    <message>
        <source>追加できませんでした：</source>
        <translation>Could not add: </translation>
    </message>
    <message>
        <source>「{0}」を追加しました。必要メモリの目安：{1}</source>
        <translation>Added &quot;{0}&quot;. Memory needed: about {1}</translation>
    </message>
    <message>
        <source>モデル（model.gguf）を選択</source>
        <translation>Choose the model (model.gguf)</translation>
    </message>
    <message>
        <source>GGUF モデル (*.gguf)</source>
        <translation>GGUF models (*.gguf)</translation>
    </message>
    <message>
        <source>画像エンコーダー（mmproj.gguf）を選択（レポート作成に必要・任意）</source>
        <translation>Choose the vision encoder (mmproj.gguf; needed for reports, optional)</translation>
    </message>
    <message>
        <source>Hugging Face 形式のモデルフォルダーを選択</source>
        <translation>Choose a Hugging Face model folder</translation>
    </message>
    <message>
        <source>「{0}」を既定のモデルにしました。</source>
        <translation>&quot;{0}&quot; is now the default model.</translation>
    </message>
    <message>
        <source>「{0}」を一覧から削除しました（ファイルは残っています）。</source>
        <translation>Removed &quot;{0}&quot; from the list (the files are kept).</translation>
    </message>
    <message>
        <source>「{0}」を一覧から削除しますか？ファイルは削除されません。</source>
        <translation>Remove &quot;{0}&quot; from the list? The files are not deleted.</translation>
    </message>
    <message>
        <source>モデルが登録されていません。「GGUF を追加…」から追加してください。</source>
        <translation>No model is registered. Add one with &quot;Add GGUF…&quot;.</translation>
    </message>
    <message>
        <source>あり（レポート作成可）</source>
        <translation>yes (reports possible)</translation>
    </message>
    <message>
        <source>なし（医療QAのみ）</source>
        <translation>no (medical QA only)</translation>
    </message>
    <message>
        <source>アーキテクチャ</source>
        <translation>Architecture</translation>
    </message>
    <message>
        <source>画像エンコーダー</source>
        <translation>Vision encoder</translation>
    </message>
    <message>
        <source>必要メモリの目安</source>
        <translation>Estimated memory</translation>
    </message>
    <message>
        <source>（コンテキスト長 {0:,} トークン）</source>
        <translation>(context {0:,} tokens)</translation>
    </message>
</context>
<context>
    <name>ReportPanel</name>
    <message>
        <source>AI による下書きです。診断に用いる前に、必ず医師が画像を確認し内容を修正してください。</source>
        <translation>AI-generated draft. A physician must review the image and correct this text before any clinical use.</translation>
    </message>
    <message>
        <source>臨床情報（任意）</source>
        <translation>Clinical indication (optional)</translation>
    </message>
    <message>
        <source>例：発熱と咳嗽、術前検査</source>
        <translation>e.g. fever and cough, pre-operative check</translation>
    </message>
    <message>
        <source>生成 (Ctrl+Enter)</source>
        <translation>Generate (Ctrl+Enter)</translation>
    </message>
    <message>
        <source>停止 (Esc)</source>
        <translation>Stop (Esc)</translation>
    </message>
    <message>
        <source>再生成</source>
        <translation>Regenerate</translation>
    </message>
    <message>
        <source>コピー</source>
        <translation>Copy</translation>
    </message>
    <message>
        <source>書き出し</source>
        <translation>Export</translation>
    </message>
    <message>
        <source>テキスト (.txt)</source>
        <translation>Text (.txt)</translation>
    </message>
    <message>
        <source>Markdown (.md)</source>
        <translation>Markdown (.md)</translation>
    </message>
    <message>
        <source>PDF (.pdf)</source>
        <translation>PDF (.pdf)</translation>
    </message>
    <message>
        <source>DICOM SR (.dcm)</source>
        <translation>DICOM SR (.dcm)</translation>
    </message>
    <message>
        <source>所見</source>
        <translation>Findings</translation>
    </message>
    <message>
        <source>印象</source>
        <translation>Impression</translation>
    </message>
    <message>
        <source>生成中…</source>
        <translation>Generating…</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>モデル：なし</source>
        <translation>Model: none</translation>
    </message>
    <message>
        <source>モデル：</source>
        <translation>Model: </translation>
    </message>
    <message>
        <source>読み込み中…</source>
        <translation>loading…</translation>
    </message>
    <message>
        <source>デバイス：</source>
        <translation>Device: </translation>
    </message>
    <message>
        <source>メモリ：</source>
        <translation>Memory: </translation>
    </message>
</context>
</TS>
