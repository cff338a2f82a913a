; Inno Setup 6 script of JRadi Desktop for Windows (x64). Not built or tested in this
; repository's CI, which runs on Linux: see packaging/README.md, "Windows".
;
; On a Windows build machine, after building the folder with PyInstaller
; (packaging\dist\clinician\jradi-desktop\jradi-desktop.exe, see packaging/README.md):
;
;   iscc /DAppVersion=0.1.0 /DFlavour=clinician packaging\windows\jradi.iss
;
; writes packaging\dist\jradi-desktop-0.1.0-clinician-setup.exe. The installer needs no
; administrator rights by default (per-user install under %LOCALAPPDATA%\Programs); an IT
; department installs for all users with /ALLUSERS, silently with /VERYSILENT /ALLUSERS.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Flavour
  #define Flavour "clinician"
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\" + Flavour + "\jradi-desktop"
#endif
#define AppName "JRadi Desktop"
#define AppExe "jradi-desktop.exe"

[Setup]
; One AppId for both flavours: installing one replaces the other.
AppId={{5B0E7C52-3C8E-4D7B-9A53-1F2E6A7C9D41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=JRadi
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist
OutputBaseFilename=jradi-desktop-{#AppVersion}-{#Flavour}-setup
SetupIconFile=..\icons\jradi-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
ChangesAssociations=yes
CloseApplications=yes

[Languages]
Name: "japanese"; MessagesFile: "compiler:Languages\Japanese.isl"
Name: "english"; MessagesFile: "compiler:Default.isl"

[CustomMessages]
japanese.AssocDicom=DICOM ファイル（.dcm）を {#AppName} で開く
english.AssocDicom=Open DICOM files (.dcm) with {#AppName}
japanese.DicomFile=DICOM 画像
english.DicomFile=DICOM image

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "dicomassoc"; Description: "{cm:AssocDicom}"; GroupDescription: "{cm:AdditionalIcons}"

[InstallDelete]
; A previous version's bundled libraries must not linger beside the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; "Open with" for .dcm without taking the default from a PACS viewer the hospital set.
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "JRadiDesktop.dcm"; ValueData: ""; Flags: uninsdeletevalue; Tasks: dicomassoc
Root: HKA; Subkey: "Software\Classes\JRadiDesktop.dcm"; ValueType: string; ValueName: ""; ValueData: "{cm:DicomFile}"; Flags: uninsdeletekey; Tasks: dicomassoc
Root: HKA; Subkey: "Software\Classes\JRadiDesktop.dcm\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: dicomassoc
Root: HKA; Subkey: "Software\Classes\JRadiDesktop.dcm\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: dicomassoc
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""; Flags: uninsdeletekey; Tasks: dicomassoc

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
