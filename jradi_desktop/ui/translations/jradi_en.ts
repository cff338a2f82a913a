<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="ja">
<context>
    <name>BoundsTable</name>
    <message>
        <source>パラメータ</source>
        <translation>Parameter</translation>
    </message>
    <message>
        <source>下限</source>
        <translation>Lower</translation>
    </message>
    <message>
        <source>上限</source>
        <translation>Upper</translation>
    </message>
    <message>
        <source>p（DARE の削除率）</source>
        <translation>p (DARE drop rate)</translation>
    </message>
    <message>
        <source>λ（全体の倍率）</source>
        <translation>λ (overall scale)</translation>
    </message>
    <message>
        <source>k（TIES の残す割合）</source>
        <translation>k (TIES trim fraction)</translation>
    </message>
    <message>
        <source>w（重み）</source>
        <translation>w (weight)</translation>
    </message>
</context>
<context>
    <name>CacheLimitBox</name>
    <message>
        <source>取得した検査のキャッシュ</source>
        <translation>Retrieved studies (cache)</translation>
    </message>
    <message>
        <source>上限（GiB）</source>
        <translation>Limit (GiB)</translation>
    </message>
    <message>
        <source>上限を超えると、最後に開いたのが古い検査から削除します（PACS 上の検査はそのまま）</source>
        <translation>Above the limit, the studies opened longest ago are removed from this computer (the PACS keeps them)</translation>
    </message>
    <message>
        <source>使用中：%1（%2 検査）</source>
        <translation>In use: %1 (%2 studies)</translation>
    </message>
</context>
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
    <name>EvalBox</name>
    <message>
        <source>評価（IgakuQA 形式の問題集）</source>
        <translation>Evaluation (IgakuQA-format questions)</translation>
    </message>
    <message>
        <source>問題集</source>
        <translation>Questions</translation>
    </message>
    <message>
        <source>モデル</source>
        <translation>Model</translation>
    </message>
    <message>
        <source>最大生成トークン数</source>
        <translation>Max new tokens</translation>
    </message>
    <message>
        <source>問題数の上限</source>
        <translation>Question limit</translation>
    </message>
    <message>
        <source>すべて</source>
        <translation>All</translation>
    </message>
    <message>
        <source>評価を実行</source>
        <translation>Evaluate</translation>
    </message>
    <message>
        <source>IgakuQA 形式のフォルダー</source>
        <translation>IgakuQA-format folder</translation>
    </message>
    <message>
        <source>評価するモデル（HF フォルダー）</source>
        <translation>Model to evaluate (HF folder)</translation>
    </message>
    <message>
        <source>指標</source>
        <translation>Metric</translation>
    </message>
    <message>
        <source>値</source>
        <translation>Value</translation>
    </message>
    <message>
        <source>問題集のフォルダー（または JSONL）を選んでください。</source>
        <translation>Choose the question folder (or a JSONL file).</translation>
    </message>
    <message>
        <source>学習が終わると、マージしたモデルがここに入ります。</source>
        <translation>When training ends, the merged model is filled in here.</translation>
    </message>
    <message>
        <source>モデルのフォルダー（config.json）か .gguf ファイルを選んでください。</source>
        <translation>Choose a model folder (config.json) or a .gguf file.</translation>
    </message>
    <message>
        <source>問題数</source>
        <translation>Questions</translation>
    </message>
    <message>
        <source>正答率</source>
        <translation>Accuracy</translation>
    </message>
    <message>
        <source>完全一致</source>
        <translation>Exact match</translation>
    </message>
    <message>
        <source>類似度（Gestalt）</source>
        <translation>Similarity (Gestalt)</translation>
    </message>
    <message>
        <source>IgakuQA 正答率</source>
        <translation>IgakuQA accuracy</translation>
    </message>
    <message>
        <source>IgakuQA 得点</source>
        <translation>IgakuQA points</translation>
    </message>
    <message>
        <source>ブロック %1 の正答率</source>
        <translation>Accuracy, block %1</translation>
    </message>
    <message>
        <source>所要時間（秒）</source>
        <translation>Time (s)</translation>
    </message>
</context>
<context>
    <name>EvolveForm</name>
    <message>
        <source>1. モデル</source>
        <translation>1. Models</translation>
    </message>
    <message>
        <source>ベース</source>
        <translation>Base</translation>
    </message>
    <message>
        <source>専門モデル</source>
        <translation>Specialist models</translation>
    </message>
    <message>
        <source>＋ 専門モデルを追加</source>
        <translation>+ Add a specialist model</translation>
    </message>
    <message>
        <source>VLM（画像からレポートを書くモデル）のフォルダー</source>
        <translation>VLM folder (the model that writes reports from images)</translation>
    </message>
    <message>
        <source>ベースモデルのフォルダー</source>
        <translation>Base model folder</translation>
    </message>
    <message>
        <source>2. 開発データ（画像とレポートの組）</source>
        <translation>2. Development data (image–report pairs)</translation>
    </message>
    <message>
        <source>開発データ（CSV / JSONL）</source>
        <translation>Development data (CSV / JSONL)</translation>
    </message>
    <message>
        <source>3. 探索の設定</source>
        <translation>3. Search settings</translation>
    </message>
    <message>
        <source>ランダム</source>
        <translation>Random</translation>
    </message>
    <message>
        <source>試行回数</source>
        <translation>Trials</translation>
    </message>
    <message>
        <source>サンプラー</source>
        <translation>Sampler</translation>
    </message>
    <message>
        <source>探索範囲</source>
        <translation>Bounds</translation>
    </message>
    <message>
        <source>最大生成トークン数</source>
        <translation>Max new tokens</translation>
    </message>
    <message>
        <source>バッチサイズ</source>
        <translation>Batch size</translation>
    </message>
    <message>
        <source>デバイス</source>
        <translation>Device</translation>
    </message>
    <message>
        <source>4. ワークスペースと保存先</source>
        <translation>4. Workspace and storage</translation>
    </message>
    <message>
        <source>ワークスペース</source>
        <translation>Workspace</translation>
    </message>
    <message>
        <source>試行の記録</source>
        <translation>Trial storage</translation>
    </message>
    <message>
        <source>ワークスペースのフォルダー</source>
        <translation>Workspace folder</translation>
    </message>
    <message>
        <source>SQLite（ワークスペース内）</source>
        <translation>SQLite (in the workspace)</translation>
    </message>
    <message>
        <source>PostgreSQL（複数ワーカー）</source>
        <translation>PostgreSQL (several workers)</translation>
    </message>
    <message>
        <source>専門モデルのフォルダー</source>
        <translation>Specialist model folder</translation>
    </message>
    <message>
        <source>同じフォルダーが既に選ばれています。</source>
        <translation>This folder is already chosen.</translation>
    </message>
    <message>
        <source>画像の前処理設定（processor_config.json）がありません。VLM ですか？</source>
        <translation>No image preprocessing settings (processor_config.json). Is this a VLM?</translation>
    </message>
    <message>
        <source>cmaes パッケージがインストールされていません。TPE か GP を選んでください。</source>
        <translation>The cmaes package is not installed. Choose TPE or GP.</translation>
    </message>
    <message>
        <source>下限が上限を超えています: </source>
        <translation>Lower bound above the upper bound: </translation>
    </message>
    <message>
        <source>%1 件</source>
        <translation>%1 items</translation>
    </message>
    <message>
        <source>（レポートが空の %1 件は使いません）</source>
        <translation>(%1 with an empty report are skipped)</translation>
    </message>
    <message>
        <source>postgresql://ユーザー:パスワード@ホスト:ポート/データベース の形で入力してください。</source>
        <translation>Enter it as postgresql://user:password@host:port/database.</translation>
    </message>
    <message>
        <source>既存の探索があります。開始すると続きから再開します。</source>
        <translation>A search exists here. Starting resumes it.</translation>
    </message>
    <message>
        <source>新しい探索をこのフォルダーで始めます。</source>
        <translation>A new search starts in this folder.</translation>
    </message>
</context>
<context>
    <name>EvolvePage</name>
    <message>
        <source>1. 設定</source>
        <translation>1. Settings</translation>
    </message>
    <message>
        <source>2. 実行</source>
        <translation>2. Run</translation>
    </message>
    <message>
        <source>3. 結果</source>
        <translation>3. Results</translation>
    </message>
    <message>
        <source>最良の試行が書いたレポート（開発データ）</source>
        <translation>Reports written by the best trial (development data)</translation>
    </message>
    <message>
        <source>試行ごとのスコア</source>
        <translation>Score per trial</translation>
    </message>
    <message>
        <source>試行</source>
        <translation>Trial</translation>
    </message>
    <message>
        <source>ROUGE-L（開発データの平均）</source>
        <translation>ROUGE-L (development mean)</translation>
    </message>
    <message>
        <source>試行のスコア</source>
        <translation>Trial score</translation>
    </message>
    <message>
        <source>これまでの最良</source>
        <translation>Best so far</translation>
    </message>
    <message>
        <source>試行が終わるとここに表示されます</source>
        <translation>Trials appear here as they finish</translation>
    </message>
    <message>
        <source>探索を開始</source>
        <translation>Start the search</translation>
    </message>
    <message>
        <source>ワークスペースを開く…</source>
        <translation>Open a workspace…</translation>
    </message>
    <message>
        <source>このフォルダーには進化的マージの探索がありません: </source>
        <translation>No evolutionary merge search in this folder: </translation>
    </message>
    <message>
        <source>ワークスペースを開く</source>
        <translation>Open a workspace</translation>
    </message>
    <message>
        <source>書き出しています…</source>
        <translation>Exporting…</translation>
    </message>
    <message>
        <source>まだ完了した試行がありません。</source>
        <translation>No complete trial yet.</translation>
    </message>
    <message>
        <source>最良: 試行 %1、ROUGE-L %2（完了 %3 / %4 試行）</source>
        <translation>Best: trial %1, ROUGE-L %2 (%3 of %4 trials complete)</translation>
    </message>
</context>
<context>
    <name>ExportPanel</name>
    <message>
        <source>書き出しと利用</source>
        <translation>Export and use</translation>
    </message>
    <message>
        <source>量子化</source>
        <translation>Quantisation</translation>
    </message>
    <message>
        <source>ファイル</source>
        <translation>File</translation>
    </message>
    <message>
        <source>モデル名</source>
        <translation>Model name</translation>
    </message>
    <message>
        <source>なし（F16）</source>
        <translation>None (F16)</translation>
    </message>
    <message>
        <source>GGUF に書き出す</source>
        <translation>Export to GGUF</translation>
    </message>
    <message>
        <source>このモデルを使う</source>
        <translation>Use this model</translation>
    </message>
    <message>
        <source>ワークスペースを開く</source>
        <translation>Open a workspace</translation>
    </message>
    <message>
        <source>まだ書き出していません。</source>
        <translation>Not exported yet.</translation>
    </message>
    <message>
        <source>「%1」を登録し、アプリのモデルにしました。</source>
        <translation>Registered &quot;%1&quot; and made it the app&apos;s model.</translation>
    </message>
</context>
<context>
    <name>FirstStartPage</name>
    <message>
        <source>モデルを登録してください</source>
        <translation>Register a model</translation>
    </message>
    <message>
        <source>言語モデル（レポート作成と医療QA）</source>
        <translation>the language model (reports and medical QA)</translation>
    </message>
    <message>
        <source>JRadi Desktop は、このコンピューターの中だけで動く AI モデルを使います。はじめに、統合済みの JRadiEvo モデルを登録してください。エンジニアから受け取るフォルダーには次のファイルが入っています。</source>
        <translation>JRadi Desktop uses an AI model that runs only inside this computer. First register the merged JRadiEvo model. The folder your engineers give you holds these files.</translation>
    </message>
    <message>
        <source>画像エンコーダー（Bunny-v1.1 系のモデル：SigLIP の ONNX ファイル、投影層、manifest.json を含むフォルダー。X 線画像の読影に必要）</source>
        <translation>the vision encoder (Bunny-v1.1 models: a folder with the SigLIP ONNX files, the projector and manifest.json; needed to read X-ray images)</translation>
    </message>
    <message>
        <source>画像エンコーダー（LLaVA 系のモデル：vision/ の代わりのファイル）</source>
        <translation>the vision encoder (LLaVA models: one file instead of vision/)</translation>
    </message>
    <message>
        <source>これらのファイルは、エンジニアが jradi-engine export-gguf で作成します。受け取ったフォルダーをそのまま置き、「モデルを追加…」で model.gguf を選んでください。同じフォルダーにある vision/ または mmproj.gguf は自動で見つかります。</source>
        <translation>Engineers make these files with jradi-engine export-gguf. Keep the folder as you received it and choose model.gguf with &quot;Add model…&quot;; vision/ or mmproj.gguf in the same folder is found automatically.</translation>
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
    <name>ImagePreview</name>
    <message>
        <source>前の例</source>
        <translation>Previous</translation>
    </message>
    <message>
        <source>次の例</source>
        <translation>Next</translation>
    </message>
    <message>
        <source>参照レポート</source>
        <translation>Reference report</translation>
    </message>
    <message>
        <source>表示できません</source>
        <translation>Cannot be shown</translation>
    </message>
</context>
<context>
    <name>JobPage</name>
    <message>
        <source>この環境にはチューニングエンジン（torch など）がありません。エンジン付きでインストールしてください。</source>
        <translation>This installation has no tuning engine (torch etc.). Install the engine extra.</translation>
    </message>
    <message>
        <source>赤字の項目を直すと開始できます。</source>
        <translation>Fix the fields in red to start.</translation>
    </message>
    <message>
        <source>書き出しました。</source>
        <translation>Exported.</translation>
    </message>
    <message>
        <source>中止しました。</source>
        <translation>Stopped.</translation>
    </message>
    <message>
        <source>書き出せませんでした（「%1」のログを見てください）。</source>
        <translation>Export failed (see the log on &quot;%1&quot;).</translation>
    </message>
    <message>
        <source>進化的マージの探索</source>
        <translation>Evolutionary merge search</translation>
    </message>
    <message>
        <source>LoRA 学習</source>
        <translation>LoRA training</translation>
    </message>
    <message>
        <source>書き出し</source>
        <translation>Export</translation>
    </message>
    <message>
        <source>評価</source>
        <translation>Evaluation</translation>
    </message>
    <message>
        <source>履歴の読み込み</source>
        <translation>Reading the history</translation>
    </message>
    <message>
        <source>停止しています…</source>
        <translation>Stopping…</translation>
    </message>
    <message>
        <source>ジョブが異常終了しました（終了コード %1）。</source>
        <translation>The job ended abnormally (exit code %1).</translation>
    </message>
</context>
<context>
    <name>LoraForm</name>
    <message>
        <source>1. ベースモデル</source>
        <translation>1. Base model</translation>
    </message>
    <message>
        <source>ベースモデルのフォルダー</source>
        <translation>Base model folder</translation>
    </message>
    <message>
        <source>2. 指示データ（JSONL: instruction / input / output）</source>
        <translation>2. Instruction data (JSONL: instruction / input / output)</translation>
    </message>
    <message>
        <source>指示データ（JSONL）</source>
        <translation>Instruction data (JSONL)</translation>
    </message>
    <message>
        <source>3. ハイパーパラメータ（JMedLoRA の既定値）</source>
        <translation>3. Hyperparameters (JMedLoRA defaults)</translation>
    </message>
    <message>
        <source>ドロップアウト</source>
        <translation>Dropout</translation>
    </message>
    <message>
        <source>学習率</source>
        <translation>Learning rate</translation>
    </message>
    <message>
        <source>バッチサイズ</source>
        <translation>Batch size</translation>
    </message>
    <message>
        <source>最大入力長</source>
        <translation>Max input length</translation>
    </message>
    <message>
        <source>最大出力長</source>
        <translation>Max target length</translation>
    </message>
    <message>
        <source>対象モジュール</source>
        <translation>Target modules</translation>
    </message>
    <message>
        <source>ステップ数</source>
        <translation>Steps</translation>
    </message>
    <message>
        <source>チェックポイント間隔</source>
        <translation>Checkpoint interval</translation>
    </message>
    <message>
        <source>プロンプト形式</source>
        <translation>Prompt format</translation>
    </message>
    <message>
        <source>デバイス</source>
        <translation>Device</translation>
    </message>
    <message>
        <source>q / k / v（注意機構）</source>
        <translation>q / k / v (attention)</translation>
    </message>
    <message>
        <source>すべての線形層</source>
        <translation>All linear layers</translation>
    </message>
    <message>
        <source>4bit 量子化（CUDA と bitsandbytes が必要）</source>
        <translation>4-bit quantisation (needs CUDA and bitsandbytes)</translation>
    </message>
    <message>
        <source>4. ワークスペース</source>
        <translation>4. Workspace</translation>
    </message>
    <message>
        <source>ワークスペースのフォルダー</source>
        <translation>Workspace folder</translation>
    </message>
    <message>
        <source>%1 件</source>
        <translation>%1 items</translation>
    </message>
    <message>
        <source>（読めない行 %1 行は使いません: %2）</source>
        <translation>(%1 unreadable lines are skipped: %2)</translation>
    </message>
    <message>
        <source>0 より大きく 1 より小さい数（例: 5e-5）を入力してください。</source>
        <translation>Enter a number between 0 and 1 (e.g. 5e-5).</translation>
    </message>
    <message>
        <source>QLoRA（4bit）は CUDA の GPU でのみ動きます。デバイスを auto か cuda にしてください。</source>
        <translation>QLoRA (4-bit) runs only on a CUDA GPU. Set the device to auto or cuda.</translation>
    </message>
    <message>
        <source>この学習は完了しています。新しいフォルダーを選んでください。</source>
        <translation>This training is complete. Choose a new folder.</translation>
    </message>
    <message>
        <source>途中の学習があります。開始すると最後のチェックポイントから再開します。</source>
        <translation>An unfinished training is here. Starting resumes from its last checkpoint.</translation>
    </message>
</context>
<context>
    <name>LoraPage</name>
    <message>
        <source>1. 設定</source>
        <translation>1. Settings</translation>
    </message>
    <message>
        <source>2. 学習</source>
        <translation>2. Training</translation>
    </message>
    <message>
        <source>3. 評価と書き出し</source>
        <translation>3. Evaluation and export</translation>
    </message>
    <message>
        <source>学習の損失</source>
        <translation>Training loss</translation>
    </message>
    <message>
        <source>ステップ</source>
        <translation>Step</translation>
    </message>
    <message>
        <source>損失</source>
        <translation>Loss</translation>
    </message>
    <message>
        <source>学習が始まるとここに表示されます</source>
        <translation>Shown here once training starts</translation>
    </message>
    <message>
        <source>学習を開始</source>
        <translation>Start training</translation>
    </message>
    <message>
        <source>書き出しています…</source>
        <translation>Exporting…</translation>
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
        <source>PACS</source>
        <translation>PACS</translation>
    </message>
    <message>
        <source>履歴データベース</source>
        <translation>History database</translation>
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
        <source>同梱のデモモデル（demo-model）が見つかりません。インストールをやり直してください。</source>
        <translation>The demo model shipped with the app (demo-model) is missing. Please reinstall the app.</translation>
    </message>
    <message>
        <source>デモモデル</source>
        <translation>Demo model</translation>
    </message>
    <message>
        <source>モデルを追加できません</source>
        <translation>Cannot add the model</translation>
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
        <source>画像を開いたらレポートの準備を始める（先読み）</source>
        <translation>Start preparing the report when an image opens (read ahead)</translation>
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
    <name>PacsEntriesDialog</name>
    <message>
        <source>PACS の設定</source>
        <translation>PACS settings</translation>
    </message>
    <message>
        <source>登録済みの PACS</source>
        <translation>Registered PACS</translation>
    </message>
    <message>
        <source>新規</source>
        <translation>New</translation>
    </message>
    <message>
        <source>削除</source>
        <translation>Delete</translation>
    </message>
    <message>
        <source>保存</source>
        <translation>Save</translation>
    </message>
    <message>
        <source>接続確認</source>
        <translation>Test connection</translation>
    </message>
    <message>
        <source>入力中の設定で C-ECHO を送ります（保存はしません）</source>
        <translation>Sends a C-ECHO with the settings in the form (does not save them)</translation>
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
        <source>ホスト</source>
        <translation>Host</translation>
    </message>
    <message>
        <source>ポート</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>PACS の AE タイトル</source>
        <translation>PACS AE title</translation>
    </message>
    <message>
        <source>自分の AE タイトル</source>
        <translation>Our AE title</translation>
    </message>
    <message>
        <source>タイムアウト（秒）</source>
        <translation>Timeout (s)</translation>
    </message>
    <message>
        <source>取得方法</source>
        <translation>Retrieve by</translation>
    </message>
    <message>
        <source>C-MOVE の受信ポート</source>
        <translation>C-MOVE receiving port</translation>
    </message>
    <message>
        <source>C-GET（通常）</source>
        <translation>C-GET (usual)</translation>
    </message>
    <message>
        <source>C-MOVE（C-GET のない PACS）</source>
        <translation>C-MOVE (PACS without C-GET)</translation>
    </message>
    <message>
        <source>C-MOVE では PACS が画像をこのコンピュータへ送り返します。PACS 側に、自分の AE タイトル・このコンピュータのアドレス・受信ポートを移動先として登録してもらう必要があります</source>
        <translation>With C-MOVE the PACS sends the images back to this computer. Its administrator must register our AE title, this computer&apos;s address and the receiving port as a move destination</translation>
    </message>
    <message>
        <source>例：院内PACS</source>
        <translation>e.g. Hospital PACS</translation>
    </message>
    <message>
        <source>IP アドレスまたはホスト名</source>
        <translation>IP address or host name</translation>
    </message>
    <message>
        <source>PACS 側で、この AE タイトルに C-ECHO・C-FIND・C-GET（または C-MOVE）・C-STORE を許可してもらう必要があります</source>
        <translation>The PACS administrator must allow C-ECHO, C-FIND, C-GET (or C-MOVE) and C-STORE for this AE title</translation>
    </message>
    <message>
        <source>PACS が DICOM TLS で接続を受け付ける場合にだけ使います。クライアント証明書と秘密鍵は、PACS が求める場合に指定します。</source>
        <translation>Only for a PACS that accepts DICOM TLS connections. Give a client certificate and its private key only if the PACS asks for one.</translation>
    </message>
    <message>
        <source>CA ファイル</source>
        <translation>CA file</translation>
    </message>
    <message>
        <source>クライアント証明書</source>
        <translation>Client certificate</translation>
    </message>
    <message>
        <source>秘密鍵</source>
        <translation>Private key</translation>
    </message>
    <message>
        <source>参照…</source>
        <translation>Browse…</translation>
    </message>
    <message>
        <source>ファイルを選択</source>
        <translation>Choose a file</translation>
    </message>
    <message>
        <source>証明書・鍵 (*.pem *.crt *.cer *.key);;すべてのファイル (*)</source>
        <translation>Certificates and keys (*.pem *.crt *.cer *.key);;All files (*)</translation>
    </message>
    <message>
        <source>PACS「%1」を保存しました。</source>
        <translation>Saved PACS &quot;%1&quot;.</translation>
    </message>
    <message>
        <source>PACS「%1」の登録を削除しますか？取得済みの検査のキャッシュは残ります。</source>
        <translation>Delete the PACS entry &quot;%1&quot;? Studies already retrieved stay in the cache.</translation>
    </message>
    <message>
        <source>PACS「%1」を削除しました。</source>
        <translation>Deleted PACS &quot;%1&quot;.</translation>
    </message>
    <message>
        <source>接続を確認しています…（%1）</source>
        <translation>Testing the connection… (%1)</translation>
    </message>
    <message>
        <source>接続できました（%1）</source>
        <translation>Connected (%1)</translation>
    </message>
</context>
<context>
    <name>PacsPanel</name>
    <message>
        <source>PACS</source>
        <translation>PACS</translation>
    </message>
    <message>
        <source>患者ID</source>
        <translation>Patient ID</translation>
    </message>
    <message>
        <source>受付番号</source>
        <translation>Accession no.</translation>
    </message>
    <message>
        <source>モダリティ</source>
        <translation>Modality</translation>
    </message>
    <message>
        <source>検査日</source>
        <translation>Study date</translation>
    </message>
    <message>
        <source>空欄ですべて</source>
        <translation>empty: any</translation>
    </message>
    <message>
        <source>検索</source>
        <translation>Search</translation>
    </message>
    <message>
        <source>停止</source>
        <translation>Stop</translation>
    </message>
    <message>
        <source>PACS の設定…</source>
        <translation>PACS settings…</translation>
    </message>
    <message>
        <source>PACS の登録・編集・削除と接続確認</source>
        <translation>Add, edit, delete and test PACS entries</translation>
    </message>
    <message>
        <source>患者名</source>
        <translation>Patient name</translation>
    </message>
    <message>
        <source>検査の説明</source>
        <translation>Study description</translation>
    </message>
    <message>
        <source>シリーズ</source>
        <translation>Series</translation>
    </message>
    <message>
        <source>画像</source>
        <translation>Images</translation>
    </message>
    <message>
        <source>ダブルクリックで取得してビューアに表示します</source>
        <translation>Double-click to retrieve the study and show it in the viewer</translation>
    </message>
    <message>
        <source>PACS が登録されていません。「PACS の設定…」で登録してください（コマンドでは jradi pacs add）。</source>
        <translation>No PACS is registered. Add one with &quot;PACS settings…&quot; (or on the command line: jradi pacs add).</translation>
    </message>
    <message>
        <source>停止しています…</source>
        <translation>Stopping…</translation>
    </message>
    <message>
        <source>検索中…（%1）</source>
        <translation>Searching… (%1)</translation>
    </message>
    <message>
        <source>%1 件の検査が見つかりました</source>
        <translation>%1 studies found</translation>
    </message>
    <message>
        <source>取得中…（%1）</source>
        <translation>Retrieving… (%1)</translation>
    </message>
    <message>
        <source>取得中… %1/%2</source>
        <translation>Retrieving… %1/%2</translation>
    </message>
    <message>
        <source>取得を中止しました（キャッシュには何も残していません）</source>
        <translation>Retrieve stopped (nothing was kept in the cache)</translation>
    </message>
    <message>
        <source>画像ではないもの %1 件（レポートなど）は表示しません</source>
        <translation>%1 instance(s) that are not images (reports etc.) are not shown</translation>
    </message>
    <message>
        <source>%1 件は PACS から受け取れませんでした</source>
        <translation>%1 instance(s) could not be received from the PACS</translation>
    </message>
    <message>
        <source>画像 %1 枚を開きました</source>
        <translation>Opened %1 image(s)</translation>
    </message>
    <message>
        <source>この検査には表示できる画像がありません</source>
        <translation>This study has no image the viewer can show</translation>
    </message>
</context>
<context>
    <name>PacsSender</name>
    <message>
        <source>PACS「%1」へ送信中…</source>
        <translation>Sending to PACS &quot;%1&quot;…</translation>
    </message>
    <message>
        <source>PACS「%1」へレポート（DICOM SR と PDF）を送信しました</source>
        <translation>Report sent to PACS &quot;%1&quot; (DICOM SR and PDF)</translation>
    </message>
    <message>
        <source>PACS「%1」へレポート（DICOM SR）を送信しました</source>
        <translation>Report sent to PACS &quot;%1&quot; (DICOM SR)</translation>
    </message>
    <message>
        <source>PACSへ送信できません</source>
        <translation>Cannot send to the PACS</translation>
    </message>
</context>
<context>
    <name>PathField</name>
    <message>
        <source>参照…</source>
        <translation>Browse…</translation>
    </message>
    <message>
        <source>この行を削除</source>
        <translation>Remove this row</translation>
    </message>
    <message>
        <source>ワークスペースのフォルダーを選んでください。</source>
        <translation>Choose the workspace folder.</translation>
    </message>
    <message>
        <source>フォルダーではありません。</source>
        <translation>Not a folder.</translation>
    </message>
    <message>
        <source>新しいフォルダーを作成します。</source>
        <translation>A new folder will be created.</translation>
    </message>
    <message>
        <source>書き込み権限がありません。</source>
        <translation>No write permission.</translation>
    </message>
    <message>
        <source>OK（%1 パラメータ、%2）</source>
        <translation>OK (%1 parameters, %2)</translation>
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
        <source>PACSへ送信</source>
        <translation>Send to PACS</translation>
    </message>
    <message>
        <source>PDF も送る</source>
        <translation>Also send the PDF</translation>
    </message>
    <message>
        <source>レポートの PDF も DICOM（Encapsulated PDF）として SR と一緒に送ります</source>
        <translation>Also sends the report&apos;s PDF, as DICOM (Encapsulated PDF), with the SR</translation>
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
        <source>PACS タブから開いた画像のレポートだけ送信できます</source>
        <translation>Only a report on an image opened from the PACS tab can be sent</translation>
    </message>
    <message>
        <source>レポートを DICOM SR として、画像を取得した PACS「%1」の同じ検査へ送ります</source>
        <translation>Send the report as DICOM SR into the same study on PACS &quot;%1&quot;, where the image came from</translation>
    </message>
    <message>
        <source>生成中…</source>
        <translation>Generating…</translation>
    </message>
    <message>
        <source>画像を解析中 %1/%2</source>
        <translation>Analysing the image %1/%2</translation>
    </message>
    <message>
        <source>入力を読み込み中 %1/%2</source>
        <translation>Reading the input %1/%2</translation>
    </message>
    <message>
        <source>（残り約 %1 秒）</source>
        <translation> (about %1 s left)</translation>
    </message>
</context>
<context>
    <name>ReportSession</name>
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
        <source>保存されていない下書き</source>
        <translation>Unsaved draft</translation>
    </message>
    <message>
        <source>前回終了時に保存されていないレポートの下書きがあります。復元しますか？</source>
        <translation>A report draft was not saved when the app last closed. Restore it?</translation>
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
</context>
<context>
    <name>ResourceBox</name>
    <message>
        <source>リソースの確認</source>
        <translation>Resources</translation>
    </message>
    <message>
        <source>GPU</source>
        <translation>GPU</translation>
    </message>
    <message>
        <source>ディスク</source>
        <translation>Disk</translation>
    </message>
    <message>
        <source>メモリ</source>
        <translation>Memory</translation>
    </message>
    <message>
        <source>GPU を確認</source>
        <translation>Check GPU</translation>
    </message>
    <message>
        <source>確認しています…</source>
        <translation>Checking…</translation>
    </message>
    <message>
        <source>未確認（「GPU を確認」を押してください）</source>
        <translation>Not checked (press &quot;Check GPU&quot;)</translation>
    </message>
    <message>
        <source>GPU が見つかりません。CPU で実行します（とても遅くなります）。</source>
        <translation>No GPU found. Runs on the CPU (very slow).</translation>
    </message>
    <message>
        <source>ワークスペースを選ぶと空き容量を表示します。</source>
        <translation>Choose a workspace to see the free space.</translation>
    </message>
    <message>
        <source>空き %1</source>
        <translation>%1 free</translation>
    </message>
    <message>
        <source>（書き出しに約 %1 必要）</source>
        <translation>(export needs about %1)</translation>
    </message>
    <message>
        <source>モデルを選ぶと推定します。</source>
        <translation>Estimated once models are chosen.</translation>
    </message>
    <message>
        <source>推定 %1（目安）</source>
        <translation>About %1 (estimate)</translation>
    </message>
    <message>
        <source>、GPU %1</source>
        <translation>, GPU %1</translation>
    </message>
    <message>
        <source>、RAM %1</source>
        <translation>, RAM %1</translation>
    </message>
</context>
<context>
    <name>RunMonitor</name>
    <message>
        <source>停止</source>
        <translation>Stop</translation>
    </message>
    <message>
        <source>再開</source>
        <translation>Resume</translation>
    </message>
    <message>
        <source>ログの末尾</source>
        <translation>Log tail</translation>
    </message>
    <message>
        <source>待機中</source>
        <translation>Waiting</translation>
    </message>
    <message>
        <source>探索中…</source>
        <translation>Searching…</translation>
    </message>
    <message>
        <source>学習中…</source>
        <translation>Training…</translation>
    </message>
    <message>
        <source>書き出し中…</source>
        <translation>Exporting…</translation>
    </message>
    <message>
        <source>評価中…</source>
        <translation>Evaluating…</translation>
    </message>
    <message>
        <source>履歴を読み込み中…</source>
        <translation>Reading the history…</translation>
    </message>
    <message>
        <source>完了しました</source>
        <translation>Finished</translation>
    </message>
    <message>
        <source>停止しました（「再開」で続きから実行します）</source>
        <translation>Stopped (&quot;Resume&quot; continues)</translation>
    </message>
    <message>
        <source>失敗しました</source>
        <translation>Failed</translation>
    </message>
    <message>
        <source>経過 %1 ／ 残り 約 %2</source>
        <translation>Elapsed %1 / about %2 left</translation>
    </message>
</context>
<context>
    <name>SampleTable</name>
    <message>
        <source>画像</source>
        <translation>Image</translation>
    </message>
    <message>
        <source>参照（所見）</source>
        <translation>Reference (findings)</translation>
    </message>
    <message>
        <source>生成された所見</source>
        <translation>Generated findings</translation>
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
<context>
    <name>TrialTable</name>
    <message>
        <source>試行</source>
        <translation>Trial</translation>
    </message>
    <message>
        <source>状態</source>
        <translation>State</translation>
    </message>
    <message>
        <source>秒</source>
        <translation>s</translation>
    </message>
    <message>
        <source>パラメータ</source>
        <translation>Parameter</translation>
    </message>
    <message>
        <source>完了</source>
        <translation>Complete</translation>
    </message>
    <message>
        <source>実行中</source>
        <translation>Running</translation>
    </message>
    <message>
        <source>失敗</source>
        <translation>Failed</translation>
    </message>
    <message>
        <source>打ち切り</source>
        <translation>Pruned</translation>
    </message>
    <message>
        <source>待機中</source>
        <translation>Waiting</translation>
    </message>
</context>
<context>
    <name>Tuning</name>
    <message>
        <source>フォルダーを選んでください。</source>
        <translation>Choose a folder.</translation>
    </message>
    <message>
        <source>フォルダーがありません。</source>
        <translation>The folder does not exist.</translation>
    </message>
    <message>
        <source>config.json がありません（Hugging Face 形式のモデルフォルダーを選んでください）。</source>
        <translation>No config.json (choose a Hugging Face model folder).</translation>
    </message>
    <message>
        <source>config.json を読めません（JSON ではありません）。</source>
        <translation>config.json cannot be read (not JSON).</translation>
    </message>
    <message>
        <source>safetensors 形式の重みがありません（安全のため safetensors のみ読み込みます）。</source>
        <translation>No safetensors weights (only safetensors are loaded, for safety).</translation>
    </message>
    <message>
        <source>データファイル（CSV または JSONL）を選んでください。</source>
        <translation>Choose a data file (CSV or JSONL).</translation>
    </message>
    <message>
        <source>CSV（.csv）または JSONL（.jsonl）ファイルを選んでください。</source>
        <translation>Choose a CSV (.csv) or JSONL (.jsonl) file.</translation>
    </message>
    <message>
        <source>ファイルがありません。</source>
        <translation>The file does not exist.</translation>
    </message>
    <message>
        <source>UTF-8 のテキストとして読めません。</source>
        <translation>Not readable as UTF-8 text.</translation>
    </message>
    <message>
        <source>ファイルの形式が正しくありません（CSV / JSON Lines として読めません）。</source>
        <translation>Malformed file (not readable as CSV / JSON Lines).</translation>
    </message>
    <message>
        <source>画像の列（image, path など）とレポートの列（report, findings など）が必要です。列: </source>
        <translation>An image column (image, path, …) and a report column (report, findings, …) are needed. Columns: </translation>
    </message>
    <message>
        <source>使える行がありません（画像とレポートの両方がある行が必要です）。</source>
        <translation>No usable rows (each needs an image and a report).</translation>
    </message>
    <message>
        <source>画像ファイルが見つかりません: </source>
        <translation>Image file not found: </translation>
    </message>
    <message>
        <source>指示データ（JSONL）を選んでください。</source>
        <translation>Choose the instruction data (JSONL).</translation>
    </message>
    <message>
        <source>フォルダーに .jsonl ファイルがありません。</source>
        <translation>No .jsonl file in the folder.</translation>
    </message>
    <message>
        <source>UTF-8 のテキストとして読めません: </source>
        <translation>Not readable as UTF-8 text: </translation>
    </message>
    <message>
        <source>使える行がありません（instruction と output が必要です）。</source>
        <translation>No usable rows (instruction and output are needed).</translation>
    </message>
</context>
<context>
    <name>TuningWidget</name>
    <message>
        <source>進化的マージ（JRadiEvo）</source>
        <translation>Evolutionary merge (JRadiEvo)</translation>
    </message>
    <message>
        <source>LoRA 学習（JMedLoRA）</source>
        <translation>LoRA training (JMedLoRA)</translation>
    </message>
    <message>
        <source>ジョブの実行中</source>
        <translation>A job is running</translation>
    </message>
    <message>
        <source>「%1」を実行中です。停止して終了しますか？
停止しても、同じワークスペースで「再開」すると続きから実行できます。</source>
        <translation>&quot;%1&quot; is running. Stop it and quit?
A stopped job continues with &quot;Resume&quot; on the same workspace.</translation>
    </message>
</context>
</TS>
