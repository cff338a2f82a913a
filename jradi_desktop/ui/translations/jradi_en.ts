<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="ja">
<context>
    <name>ChatPanel</name>
    <message>
        <source>会話を検索</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>新しい会話</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>削除</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>医療上の判断は必ず医師が行ってください。AI の回答には誤りが含まれることがあります。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>医療に関する質問を下の欄に入力して、送信してください。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>選択肢問題モード</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>選択肢を 1 行に 1 つずつ（2〜8 個）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>質問を入力（Ctrl+Enter で送信）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>送信 (Ctrl+Enter)</source>
        <translation type="unfinished"></translation>
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
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>この会話を削除しますか？</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>選択肢は 2〜8 個、1 行に 1 つずつ入力してください（現在 {0} 個）。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>停止しています…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>モデルが読み込まれていません。メニューの「モデル」から追加してください。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>ほかの生成が実行中です。終わってから送信してください。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>回答を生成中…（Esc で停止）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>停止しました。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>（停止）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>（最大長で打ち切り）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>回答しました（{0:.1f} 秒）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>回答を生成できませんでした。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>入力した質問は入力欄に残っています。</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>あなた</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>答え：（回答から読み取れませんでした）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>AI（生成中…）</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>AI</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Markdown に書き出し</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>書き出せませんでした：</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>書き出しました：</source>
        <translation type="unfinished"></translation>
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
        <source>チューニング</source>
        <translation>Tuning</translation>
    </message>
    <message>
        <source>モデルが登録されていません。メニューの「モデル」からモデルを追加してください。</source>
        <translation>No model is registered. Add one from the Model menu.</translation>
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
        <source>モデル（GGUF）を選択</source>
        <translation>Choose the model (GGUF)</translation>
    </message>
    <message>
        <source>画像エンコーダー（mmproj）を選択</source>
        <translation>Choose the vision encoder (mmproj)</translation>
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
        <source>保存されていない下書き</source>
        <translation>Unsaved draft</translation>
    </message>
    <message>
        <source>前回終了時に保存されていないレポートの下書きがあります。復元しますか？</source>
        <translation>A report draft was not saved when the app last closed. Restore it?</translation>
    </message>
    <message>
        <source>開く…</source>
        <translation type="unfinished"></translation>
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
        <source>モデルを追加…</source>
        <translation>Add model…</translation>
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
